# Copyright (c) mmrrsis contributors. All rights reserved.
from .rrsis_encoder_decoder import RRSISEncoderDecoder

__all__ = ['RRSISEncoderDecoder']
