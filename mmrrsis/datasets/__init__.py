# Copyright (c) mmrrsis contributors. All rights reserved.
from .jsonl import JsonlReferDataset
from .nwpu_refer import NWPUReferDataset
from .refer import ReferDataset, RRSISDDataset, refer_split_match
from .refsegrs import RRSIS_METAINFO, RefSegRSDataset
from .risbench import RISBenchDataset
from .transforms import *  # noqa: F401,F403
from .wrappers import BlankTextDataset, ShuffledTextDataset

__all__ = [
    'BlankTextDataset', 'JsonlReferDataset', 'NWPUReferDataset', 'ReferDataset',
    'RISBenchDataset', 'RRSISDDataset', 'RefSegRSDataset', 'RRSIS_METAINFO',
    'refer_split_match', 'ShuffledTextDataset'
]
