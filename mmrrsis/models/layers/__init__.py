# Copyright (c) mmrrsis contributors. All rights reserved.
from .language_gate import LanguageGate
from .pwam import PWAM, SpatialImageLanguageAttention
from .text_mask import LAVT_MASK_VALUE, masked_mean, normalize_text_mask, text_mask_to_bias

__all__ = [
    'LAVT_MASK_VALUE', 'LanguageGate', 'PWAM', 'SpatialImageLanguageAttention', 'masked_mean',
    'normalize_text_mask', 'text_mask_to_bias'
]
