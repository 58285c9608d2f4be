# Copyright (c) mmrrsis contributors. All rights reserved.
from .decoupled_text_encoder import DecoupledText, DecoupledTextEncoder
from .hf_text_encoder import KNOWN_HF_CONFIGS, HFTextEncoder, minilm_path

__all__ = [
    'DecoupledText', 'DecoupledTextEncoder', 'HFTextEncoder', 'KNOWN_HF_CONFIGS', 'minilm_path'
]
