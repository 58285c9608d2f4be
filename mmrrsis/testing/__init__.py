# Copyright (c) mmrrsis contributors. All rights reserved.
"""Helpers for tests and examples: tiny offline text encoders and data (no downloads)."""
from .gradients import (STRUCTURAL_ZEROS, assert_every_parameter_learns, cim_zeros,
                        gradient_report, random_projection_loss, text_features_zeros,
                        tmem_zeros)
from .tiny_models import (TINY_VOCAB, make_tiny_bert, tiny_segmentor_cfg,
                          tiny_training_options)

__all__ = [
    'STRUCTURAL_ZEROS', 'TINY_VOCAB', 'assert_every_parameter_learns', 'cim_zeros',
    'gradient_report', 'make_tiny_bert', 'random_projection_loss', 'text_features_zeros',
    'tiny_segmentor_cfg', 'tiny_training_options', 'tmem_zeros'
]
