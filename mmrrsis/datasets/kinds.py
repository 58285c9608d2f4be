# Copyright (c) mmrrsis contributors. All rights reserved.
"""Every on-disk data set kind mmrrsis reads, by the name the tools take."""
from typing import Dict

from .jsonl import JsonlReferDataset
from .nwpu_refer import NWPUReferDataset
from .refer import ReferDataset, RRSISDDataset
from .refsegrs import RefSegRSDataset
from .risbench import RISBenchDataset

#: kind -> (dataset class, fixed constructor arguments).
DATASET_KIND_CLASSES: Dict[str, tuple] = {
    'refsegrs': (RefSegRSDataset, {}),
    'rrsisd': (RRSISDDataset, {}),
    'rrsishr': (ReferDataset, dict(dataset='rrsishr', split_by='unc',
                                   img_dir='images/rrsishr/JPEGImages')),
    'risbench': (RISBenchDataset, {}),
    'nwpu': (NWPUReferDataset, {}),
    'jsonl': (JsonlReferDataset, {}),
}
DATASET_KINDS = tuple(DATASET_KIND_CLASSES)


def build_dataset_of_kind(kind: str, data_root: str, split: str, **kwargs):
    """The dataset of ``kind`` on ``data_root`` / ``split`` without a pipeline (data infos)."""
    if kind not in DATASET_KIND_CLASSES:
        raise ValueError(f'kind must be one of {DATASET_KINDS}, got {kind!r}')
    cls, fixed = DATASET_KIND_CLASSES[kind]
    args = dict(fixed, **kwargs)
    args.setdefault('pipeline', [])
    args.setdefault('test_mode', True)
    return cls(data_root=data_root, split=split, **args)
