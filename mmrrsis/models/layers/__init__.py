# Copyright (c) mmrrsis contributors. All rights reserved.
from .attention import (ATTN_IMPLS, SwitchableWindowMSA, check_attn_impl, sdpa,
                        set_attn_impl)
from .bsc import BidirectionalSpatialCorrelation
from .language_gate import LanguageGate
from .opab import ChannelModulation, ObjectPositionAlignment
from .position_encoding import coordinate_features, sincos_2d_position_embedding
from .pwam import PWAM, SpatialImageLanguageAttention
from .rotated_conv import AdaptiveRotatedConv2d, RoutingFunction, rotation_matrix
from .text_mask import LAVT_MASK_VALUE, masked_mean, normalize_text_mask, text_mask_to_bias
from .various_receptive import VariousReceptive

__all__ = [
    'ATTN_IMPLS', 'SwitchableWindowMSA', 'check_attn_impl', 'sdpa', 'set_attn_impl',
    'AdaptiveRotatedConv2d', 'BidirectionalSpatialCorrelation', 'ChannelModulation',
    'LAVT_MASK_VALUE', 'LanguageGate', 'RoutingFunction', 'VariousReceptive', 'rotation_matrix',
    'ObjectPositionAlignment', 'PWAM', 'SpatialImageLanguageAttention', 'coordinate_features',
    'masked_mean', 'normalize_text_mask', 'sincos_2d_position_embedding', 'text_mask_to_bias'
]
