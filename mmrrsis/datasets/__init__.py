# Copyright (c) mmrrsis contributors. All rights reserved.
from .refer import ReferDataset, RRSISDDataset, refer_split_match
from .refsegrs import RRSIS_METAINFO, RefSegRSDataset
from .transforms import *  # noqa: F401,F403
from .wrappers import BlankTextDataset, ShuffledTextDataset

__all__ = [
    'BlankTextDataset', 'ReferDataset', 'RRSISDDataset', 'RefSegRSDataset', 'RRSIS_METAINFO',
    'refer_split_match', 'ShuffledTextDataset'
]
