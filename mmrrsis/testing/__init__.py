# Copyright (c) mmrrsis contributors. All rights reserved.
"""Helpers for tests and examples: tiny offline text encoders and data (no downloads)."""
from .tiny_models import TINY_VOCAB, make_tiny_bert, tiny_segmentor_cfg

__all__ = ['TINY_VOCAB', 'make_tiny_bert', 'tiny_segmentor_cfg']
