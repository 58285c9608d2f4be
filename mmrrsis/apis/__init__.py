# Copyright (c) mmrrsis contributors. All rights reserved.
from .inferencer import RRSISInferencer, segment

__all__ = ['RRSISInferencer', 'segment']
