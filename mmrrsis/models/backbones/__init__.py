# Copyright (c) mmrrsis contributors. All rights reserved.
from .bsc_swin import BSCSwinTransformer
from .fianet_swin import FIANetSwinTransformer
from .lavt_swin import LAVTSwinTransformer
from .rmsin_swin import RMSINSwinTransformer

__all__ = [
    'BSCSwinTransformer', 'FIANetSwinTransformer', 'LAVTSwinTransformer', 'RMSINSwinTransformer'
]
