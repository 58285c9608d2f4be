# Copyright (c) mmrrsis contributors. All rights reserved.
from .lavt_head import LAVTHead

__all__ = ['LAVTHead']
