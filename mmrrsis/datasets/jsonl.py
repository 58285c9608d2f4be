# Copyright (c) mmrrsis contributors. All rights reserved.
"""The jsonl interchange of newer RRSIS code (RSRefSeg2, DiCoR): one JSON object per line, one
(image, expression, mask) triplet, the mask as a COCO compressed RLE."""
import glob
import json
import os
import os.path as osp
from typing import Iterable, List, Optional

import numpy as np
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .refsegrs import RRSIS_METAINFO

#: Keys every line must have (RSRefSeg2's schema).
JSONL_REQUIRED = ('split', 'image_id', 'sent', 'file_name', 'segmentation')


def encode_rle(mask: np.ndarray) -> dict:
    """(H, W) {0, 1} mask -> ``{'size': [H, W], 'counts': str}`` (COCO compressed RLE)."""
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(v) for v in rle['size']], counts=rle['counts'].decode('utf-8'))


@DATASETS.register_module()
class JsonlReferDataset(BaseSegDataset):
    """Referring segmentation data in RSRefSeg2's jsonl schema (``datainfo/<name>_<split>.jsonl``;
    also read by DiCoR), so that data prepared for those code bases trains here.

    Each line: ``split``, ``image_id``, ``sent`` (the expression), ``file_name`` (relative to
    ``img_dir``), ``segmentation`` (an RLE dict, or a list of them whose union is the target;
    RSRefSeg2 writes one-element lists for RRSIS-D) and optionally ``category_name`` /
    ``category_id``, ``ann_id``, ``ref_id``, ``sent_id`` and ``no_target`` (an mmrrsis
    extension for GRES scoring; an all-zero RLE is a no-target sample either way for the
    metric). ``ref_id`` defaults to ``ann_id``, else ``image_id``; ``sent_id`` to the line's index.
    Lines whose ``split`` differs from the file's split are an error, as are JSON errors and
    missing keys (file and line named).

    Args:
        data_root (str): Root of the jsonl files and (with ``img_dir``) of the images.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        ann_file (str, optional): The jsonl file (relative to ``data_root``). Default:
            ``<name>_<split>.jsonl`` with ``name``, else the only ``*_<split>.jsonl`` in
            ``data_root`` or ``data_root/datainfo``.
        name (str, optional): Data set name of the default file name.
        img_dir (str): Image root relative to ``data_root``. Defaults to ``''``.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """

    METAINFO = RRSIS_METAINFO

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 ann_file: Optional[str] = None,
                 name: Optional[str] = None,
                 img_dir: str = '',
                 **kwargs) -> None:
        self.split = split
        if ann_file is None:
            ann_file = self._find(data_root, split, name)
        super().__init__(data_root=data_root, ann_file=ann_file,
                         data_prefix=dict(img_path=img_dir), **kwargs)

    @staticmethod
    def _find(data_root: str, split: str, name: Optional[str]) -> str:
        if name is not None:
            return f'{name}_{split}.jsonl'
        hits = []
        for sub in ('', 'datainfo'):
            hits += sorted(glob.glob(osp.join(data_root, sub, f'*_{split}.jsonl')))
        if len(hits) != 1:
            raise FileNotFoundError(
                f'JsonlReferDataset: expected one *_{split}.jsonl in {data_root} (or its '
                f'datainfo/), found {[osp.relpath(h, data_root) for h in hits]}; pass ann_file '
                'or name')
        return osp.relpath(hits[0], data_root)

    def load_data_list(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'jsonl annotation file not found: {self.ann_file}')
        img_dir = self.data_prefix.get('img_path', '')
        data_list = []
        with open(self.ann_file, 'rb') as f:
            raw_lines = f.read().split(b'\n')
        for lineno, raw in enumerate(raw_lines, 1):
            if not raw.strip():
                continue
            where = f'{self.ann_file}:{lineno}'
            try:
                rec = json.loads(raw.decode('utf-8'))
            except (UnicodeDecodeError, ValueError) as e:
                raise ValueError(f'{where}: not a UTF-8 JSON object ({e})') from None
            if not isinstance(rec, dict):
                raise ValueError(f'{where}: expected a JSON object, got {type(rec).__name__}')
            missing = [k for k in JSONL_REQUIRED if k not in rec]
            if missing:
                raise ValueError(f'{where}: missing key(s) {missing}')
            if str(rec['split']) != self.split:
                raise ValueError(f"{where}: split {rec['split']!r} in the {self.split!r} file")
            seg = rec['segmentation']
            parts = seg if isinstance(seg, list) else [seg]
            if not parts or not all(isinstance(p, dict) and 'size' in p for p in parts):
                raise ValueError(f'{where}: segmentation must be an RLE dict (size, counts) or '
                                 'a non-empty list of them')
            if not isinstance(rec['sent'], str):
                raise ValueError(f"{where}: \"sent\" must be a string, got "
                                 f"{type(rec['sent']).__name__}: {rec['sent']!r}")
            h, w = parts[0]['size']
            ref_id = rec.get('ref_id', rec.get('ann_id', rec['image_id']))
            data_list.append(dict(
                img_path=osp.join(img_dir, rec['file_name']),
                text=rec['sent'],
                ref_id=ref_id,
                sent_id=rec.get('sent_id', len(data_list)),
                image_id=rec['image_id'],
                ann_id=rec.get('ann_id'),
                ann_source=self.ann_file,
                category=rec.get('category_name'),
                segmentation=parts,
                height=int(h),
                width=int(w),
                label_map=self.label_map,
                reduce_zero_label=self.reduce_zero_label,
                seg_fields=[],
                **({'no_target': bool(rec['no_target'])} if 'no_target' in rec else {})))
        if not data_list:
            raise ValueError(f'{type(self).__name__}: split {self.split!r} is empty: '
                             f'{self.ann_file} has no sample lines')
        return data_list


def dataset_records(dataset, split: str, progress: bool = True) -> Iterable[dict]:
    """jsonl records of an mmrrsis dataset (any kind): one per sample, the mask (union of the
    targets; all-zero for no-target) at the original size as a compressed RLE, ``file_name``
    relative to the dataset's image root."""
    from PIL import Image

    from .transforms.loading import LoadRRSISAnnotations
    loader = LoadRRSISAnnotations()
    img_root = dataset.data_prefix.get('img_path', '')
    indices = range(len(dataset))
    if progress:
        from tqdm import tqdm
        indices = tqdm(indices, desc=f'jsonl {split}', leave=False)
    for i in indices:
        info = dict(dataset.get_data_info(i))
        if info.get('segmentations') is not None and info.get('height') is None:
            with Image.open(info['img_path']) as im:
                info['width'], info['height'] = im.size
        mask = loader(info)['gt_seg_map']
        ref_id, sent_id = info.get('ref_id'), info.get('sent_id')
        rec = dict(split=split,
                   image_id=info.get('image_id', osp.splitext(osp.basename(info['img_path']))[0]),
                   sent=info['text'],
                   file_name=osp.relpath(info['img_path'], img_root).replace(os.sep, '/'),
                   segmentation=encode_rle(mask),
                   ref_id=ref_id, sent_id=sent_id)
        if info.get('category') is not None:
            rec['category_name'] = info['category']
        if info.get('ann_id') is not None:
            rec['ann_id'] = info['ann_id']
        if 'no_target' in info:
            rec['no_target'] = bool(info['no_target'])
        yield rec


def write_jsonl(records: Iterable[dict], path: str) -> int:
    """Write records one per line (UTF-8, ``json.dumps`` default escaping); returns the count."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    n = 0
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        for rec in records:
            f.write(json.dumps(rec) + '\n')
            n += 1
    if not n:
        print_log(f'{path}: no records written', logger='current', level=30)
    return n
