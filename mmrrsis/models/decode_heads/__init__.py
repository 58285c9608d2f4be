# Copyright (c) mmrrsis contributors. All rights reserved.
from .lavt_head import LAVTHead
from .rmsin_head import RMSINHead
from .tbtd_head import TBTDHead

__all__ = ['LAVTHead', 'RMSINHead', 'TBTDHead']
