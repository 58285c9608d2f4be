# Copyright (c) mmrrsis contributors. All rights reserved.
from .hf_text_encoder import KNOWN_HF_CONFIGS, HFTextEncoder, minilm_path

__all__ = ['HFTextEncoder', 'KNOWN_HF_CONFIGS', 'minilm_path']
