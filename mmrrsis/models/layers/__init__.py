# Copyright (c) mmrrsis contributors. All rights reserved.
from .bsc import BidirectionalSpatialCorrelation
from .language_gate import LanguageGate
from .opab import ChannelModulation, ObjectPositionAlignment
from .position_encoding import coordinate_features, sincos_2d_position_embedding
from .pwam import PWAM, SpatialImageLanguageAttention
from .text_mask import LAVT_MASK_VALUE, masked_mean, normalize_text_mask, text_mask_to_bias

__all__ = [
    'BidirectionalSpatialCorrelation', 'ChannelModulation', 'LAVT_MASK_VALUE', 'LanguageGate',
    'ObjectPositionAlignment', 'PWAM', 'SpatialImageLanguageAttention', 'coordinate_features',
    'masked_mean', 'normalize_text_mask', 'sincos_2d_position_embedding', 'text_mask_to_bias'
]
