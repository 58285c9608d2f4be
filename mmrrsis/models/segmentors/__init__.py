# Copyright (c) mmrrsis contributors. All rights reserved.
from .btdnet import BTDNetEncoderDecoder
from .fianet import FIANetEncoderDecoder
from .rmsin import RMSINEncoderDecoder
from .rrsis_encoder_decoder import RRSISEncoderDecoder

__all__ = [
    'BTDNetEncoderDecoder', 'FIANetEncoderDecoder', 'RMSINEncoderDecoder', 'RRSISEncoderDecoder'
]
