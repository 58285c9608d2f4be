# Copyright (c) mmrrsis contributors. All rights reserved.
from .entity_reconstruct_head import EntityReconstructHead
from .lavt_head import LAVTHead
from .tbtd_head import TBTDHead

__all__ = ['EntityReconstructHead', 'LAVTHead', 'TBTDHead']
