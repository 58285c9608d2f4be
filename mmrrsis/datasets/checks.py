# Copyright (c) mmrrsis contributors. All rights reserved.
"""Integrity checks of RefSegRS and RRSIS-D (REFER format) data on disk.

:func:`check_dataset` reads the raw files (not through the dataset classes, which skip or
tolerate some problems) and goes through the whole set, collecting every problem with a count
and the first examples per kind. ``tools/misc/check_dataset.py`` is its command line.

Problem kinds. Errors make a set unusable or its numbers wrong; warnings are worth a look but
the loaders handle them:

- errors: ``missing_file`` (phrase file, ``refs(unc).p`` or ``instances.json``),
  ``unreadable_annotation``, ``missing_image``, ``unreadable_image``, ``missing_mask``,
  ``unreadable_mask`` (RefSegRS file or REFER segmentation that does not decode),
  ``size_mismatch`` (mask vs image, or the ``instances.json`` size vs the image),
  ``empty_expression`` (no text, or a ref without sentences), ``duplicate_id`` (an id twice in one
  split; REFER: ``ref_id`` or ``sent_id``; the loaders keep them with a logged warning),
  ``duplicate_id_across_splits``,
  ``missing_annotation`` (a ref's ``ann_id`` is not in ``instances.json``),
  ``unknown_category`` (a category id not in ``categories``).
- warnings: ``empty_mask`` (a target without pixels; such samples score 0 IoU),
  ``non_rgb_image`` (grey, RGBA or high bit depth; the message says what the loader does),
  ``blank_line`` (skipped by the loader), ``empty_split`` (no samples for a requested split),
  ``missing_image_record`` (REFER: ``image_id`` not in ``instances.json`` images),
  ``category_mismatch`` (REFER: the ref's and the annotation's category ids differ),
  ``byte_order_mark`` (a phrase file starting with a UTF-8 BOM; the loader drops it).

Phrase files are decoded as the dataset class does (a line that is not UTF-8 is an
``unreadable_annotation`` naming the file and line); REFER segmentations are validated as the
loader does (RLE run lengths must sum to H x W, polygons need >= 3 finite points), so a
malformed one is an ``unreadable_mask`` naming the ref and the annotation.
"""
import json
import os.path as osp
import pickle
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .refer import refer_split_match
from .refsegrs import read_phrase_lines
from .transforms.loading import decode_refer_segmentation, load_refsegrs_mask

ERROR_KINDS = ('missing_file', 'unreadable_annotation', 'missing_image', 'unreadable_image',
               'missing_mask', 'unreadable_mask', 'size_mismatch', 'empty_expression',
               'duplicate_id', 'duplicate_id_across_splits', 'missing_annotation',
               'unknown_category')
WARNING_KINDS = ('empty_mask', 'non_rgb_image', 'blank_line', 'empty_split',
                 'missing_image_record', 'category_mismatch', 'byte_order_mark')
# every kind of mmrrsis.datasets.kinds: refsegrs, rrsisd, rrsishr, risbench, nwpu, jsonl
from .kinds import DATASET_KINDS, build_dataset_of_kind  # noqa: E402


class _Problems:

    def __init__(self, max_examples: int):
        self.max_examples = max_examples
        self.items = OrderedDict((k, dict(count=0, examples=[]))
                                 for k in ERROR_KINDS + WARNING_KINDS)

    def add(self, kind: str, message: str):
        entry = self.items[kind]
        entry['count'] += 1
        if len(entry['examples']) < self.max_examples:
            entry['examples'].append(message)


def _read_image(path: str, problems: _Problems, where: str) -> Optional[Tuple[int, int]]:
    """(H, W) of a readable image; records missing / unreadable / non-RGB problems."""
    if not osp.isfile(path):
        problems.add('missing_image', f'{where}: image not found: {path}')
        return None
    # decoded with OpenCV as mmcv's loader does; IMREAD_UNCHANGED keeps the channel layout
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        problems.add('unreadable_image', f'{where}: cannot decode image: {path}')
        return None
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        channels = img.shape[2] if img.ndim == 3 else 1
        layout = f'{channels} channel(s), {img.dtype}'
        if img.dtype != np.uint8 and channels == 1:
            action = ("the loader scales it to 8 bit (LoadRRSISImageFromFile high_bit_depth="
                      "'range': v * 255 / 65535, float [0, 1] x 255; 'minmax' or 'error' "
                      'on request) and replicates it to 3 channels')
        elif img.dtype != np.uint8:
            action = ('Pillow converts it to 8-bit RGB; check the result, high-bit-depth colour '
                      'images may be clipped')
        elif channels == 1:
            action = 'the loader replicates it to 3 channels'
        else:
            action = f'the loader keeps 3 of its {channels} channels (RGB, alpha dropped)'
        problems.add('non_rgb_image', f'{where}: not 8-bit RGB ({layout}; {action}): {path}')
    return img.shape[:2]


def _check_mask(mask: np.ndarray, img_hw, problems: _Problems, where: str, path: str):
    if img_hw is not None and tuple(mask.shape[:2]) != tuple(img_hw):
        problems.add('size_mismatch', f'{where}: mask {mask.shape[1]}x{mask.shape[0]} vs '
                     f'image {img_hw[1]}x{img_hw[0]} (WxH): {path}')
    if not mask.any():
        problems.add('empty_mask', f'{where}: mask has no foreground pixel: {path}')


def _progress(iterable, total: int, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, leave=False)


def _check_refsegrs(root: str, splits: Sequence[str], problems: _Problems, progress: bool,
                    img_dir: str = 'images', mask_dir: str = 'masks',
                    phrase_file: str = 'output_phrase_{}.txt', suffix: str = '.tif',
                    mask_threshold: int = 50) -> Dict[str, int]:
    seen: Dict[str, str] = {}
    items: List[Tuple[str, str]] = []
    per_split = {}
    for split in splits:
        fname = phrase_file.format(split)
        path = osp.join(root, fname)
        per_split[split] = 0
        if not osp.isfile(path):
            problems.add('missing_file', f'{split}: phrase file not found: {path}')
            continue
        try:  # decoded exactly as RefSegRSDataset does
            lines, bom = read_phrase_lines(path)
        except (OSError, ValueError) as e:
            problems.add('unreadable_annotation', str(e))
            continue
        if bom:
            problems.add('byte_order_mark', f'{fname}: starts with a UTF-8 byte-order mark '
                         '(the loader drops it)')
        for lineno, line in lines:
            if not line.strip():
                problems.add('blank_line', f'{fname}:{lineno}: blank line')
                continue
            sid, _, text = line.partition(' ')
            per_split[split] += 1
            where = f'{fname}:{lineno} (id {sid})'
            if not text.strip():
                problems.add('empty_expression', f'{where}: empty expression')
            if sid in seen:
                if seen[sid] == split:
                    problems.add('duplicate_id', f'{where}: id {sid} repeats in {split}')
                else:
                    problems.add('duplicate_id_across_splits',
                                 f'{where}: id {sid} is also in {seen[sid]}')
                continue  # its files are checked once
            seen[sid] = split
            items.append((where, sid))
        if per_split[split] == 0:
            problems.add('empty_split', f'{split}: {fname} has no samples')
    for where, sid in _progress(items, len(items), progress, 'checking samples'):
        img_hw = _read_image(osp.join(root, img_dir, sid + suffix), problems, where)
        mask_path = osp.join(root, mask_dir, sid + suffix)
        if not osp.isfile(mask_path):
            problems.add('missing_mask', f'{where}: mask not found: {mask_path}')
            continue
        try:
            mask = load_refsegrs_mask(mask_path, mask_threshold)
        except (OSError, ValueError) as e:
            problems.add('unreadable_mask', f'{where}: cannot decode mask: {mask_path} ({e})')
            continue
        _check_mask(mask, img_hw, problems, where, mask_path)
    return per_split


def _check_refer(root: str, splits: Sequence[str], problems: _Problems, progress: bool,
                 dataset: str = 'rrsisd', split_by: str = 'unc',
                 img_dir: str = 'images/rrsisd/JPEGImages') -> Dict[str, int]:
    refs_path = osp.join(root, dataset, f'refs({split_by}).p')
    inst_path = osp.join(root, dataset, 'instances.json')
    per_split = {s: 0 for s in splits}
    missing = [p for p in (refs_path, inst_path) if not osp.isfile(p)]
    for p in missing:
        problems.add('missing_file', f'annotation file not found: {p}')
    if missing:
        return per_split
    try:
        with open(refs_path, 'rb') as f:
            refs = pickle.load(f)
        if not isinstance(refs, list):
            raise ValueError(f'expected a list of refs, got {type(refs).__name__}')
    except Exception as e:  # any unpickling failure
        problems.add('unreadable_annotation', f'cannot read {refs_path}: {e}')
        return per_split
    try:
        with open(inst_path, encoding='utf-8') as f:
            instances = json.load(f)
        anns = {a['id']: a for a in instances.get('annotations', [])}
        imgs = {i['id']: i for i in instances.get('images', [])}
        cats = {c['id']: c['name'] for c in instances.get('categories', [])}
    except Exception as e:
        problems.add('unreadable_annotation', f'cannot read {inst_path}: {e}')
        return per_split

    seen_ref: Dict[object, str] = {}
    seen_sent: Dict[object, str] = {}
    items = []
    for split in splits:
        for ref in refs:
            if not refer_split_match(str(ref.get('split')), split):
                continue
            rid = ref.get('ref_id')
            where = f'{split} ref {rid}'
            per_split[split] += 1
            if rid in seen_ref:
                kind = 'duplicate_id' if seen_ref[rid] == split else 'duplicate_id_across_splits'
                problems.add(kind, f'{where}: ref_id {rid} already in {seen_ref[rid]}')
                continue
            seen_ref[rid] = split
            sentences = ref.get('sentences') or []
            if not sentences:
                problems.add('empty_expression', f'{where}: ref has no sentences')
            for s in sentences:
                sent_id = s.get('sent_id')
                if not str(s.get('raw', s.get('sent', ''))).strip():
                    problems.add('empty_expression', f'{where}: sentence {sent_id} is empty')
                if sent_id in seen_sent:
                    kind = ('duplicate_id' if seen_sent[sent_id] == split else
                            'duplicate_id_across_splits')
                    problems.add(kind, f'{where}: sent_id {sent_id} already in '
                                 f'{seen_sent[sent_id]}')
                else:
                    seen_sent[sent_id] = split
            ann = anns.get(ref.get('ann_id'))
            ref_cat = ref.get('category_id')
            if ref_cat is not None and ref_cat not in cats:
                problems.add('unknown_category',
                             f'{where}: category_id {ref_cat!r} is not in categories')
            if ann is None:
                problems.add('missing_annotation', f'{where}: ann_id {ref.get("ann_id")} is '
                             f'not in {inst_path}')
                continue
            ann_cat = ann.get('categories_id', ann.get('category_id'))
            if ann_cat is not None and ann_cat not in cats and (ref_cat is None
                                                                or ref_cat in cats):
                problems.add('unknown_category', f'{where}: annotation {ann["id"]} category '
                             f'{ann_cat!r} is not in categories')
            if ref_cat is not None and ann_cat is not None and ref_cat != ann_cat:
                problems.add('category_mismatch', f'{where}: ref category_id {ref_cat} != '
                             f'annotation {ann["id"]} category {ann_cat}')
            img_info = imgs.get(ref.get('image_id'))
            if img_info is None:
                problems.add('missing_image_record', f'{where}: image_id {ref.get("image_id")}'
                             f' is not in {inst_path} images')
                img_info = {}
            file_name = ref.get('file_name') or img_info.get('file_name')
            items.append((where, file_name, ann, img_info))
        if per_split[split] == 0:
            problems.add('empty_split', f'{split}: no refs in {refs_path}')

    image_cache: Dict[str, Optional[Tuple[int, int]]] = {}
    for where, file_name, ann, img_info in _progress(items, len(items), progress,
                                                     'checking samples'):
        if not file_name:
            problems.add('missing_image', f'{where}: no file_name in the ref or image record')
            img_hw = None
        else:
            path = osp.join(root, img_dir, file_name)
            if path not in image_cache:
                image_cache[path] = _read_image(path, problems, where)
            img_hw = image_cache[path]
        rec_hw = (img_info.get('height'), img_info.get('width'))
        if img_hw is not None and None not in rec_hw and tuple(rec_hw) != tuple(img_hw):
            problems.add('size_mismatch', f'{where}: instances.json says {rec_hw[1]}x'
                         f'{rec_hw[0]}, image {file_name} is {img_hw[1]}x{img_hw[0]} (WxH)')
            continue
        h, w = rec_hw if None not in rec_hw else (img_hw or (None, None))
        try:
            mask = decode_refer_segmentation(ann.get('segmentation'), h, w)
        except Exception as e:  # pycocotools raises several types on malformed input
            problems.add('unreadable_mask', f'{where}: cannot decode the segmentation of '
                         f'annotation {ann.get("id")} ({type(e).__name__}: {e})')
            continue
        _check_mask(mask, img_hw, problems, where, f'annotation {ann.get("id")}')
    return per_split


def _check_via_dataset(kind: str, root: str, splits: Sequence[str], problems: _Problems,
                       progress: bool, **kwargs) -> Dict[str, int]:
    """Kinds without a raw-file checker (NWPU-Refer, jsonl): build the dataset class of each
    split (its errors name the file and line) and load every sample's image and mask as the
    loaders do."""
    from .transforms.loading import LoadRRSISAnnotations
    loader = LoadRRSISAnnotations()
    per_split, items, seen = {}, [], {}
    for split in splits:
        per_split[split] = 0
        try:
            ds = build_dataset_of_kind(kind, root, split, **kwargs)
        except FileNotFoundError as e:
            problems.add('missing_file', f'{split}: {e}')
            continue
        except Exception as e:  # noqa: BLE001  (the message names the file and the problem)
            msg = str(e)
            kind_ = 'empty_split' if 'no refs for split' in msg or 'no samples' in msg else \
                'unreadable_annotation'
            problems.add(kind_, f'{split}: {msg}')
            continue
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            per_split[split] += 1
            where = f"{split} ref {info.get('ref_id')} sent {info.get('sent_id')}"
            key = (info.get('ref_id'), info.get('sent_id'))
            if key in seen:
                kind_ = 'duplicate_id' if seen[key] == split else 'duplicate_id_across_splits'
                problems.add(kind_, f'{where}: (ref_id, sent_id) {key} already in {seen[key]}')
            seen[key] = split
            if not str(info.get('text', '')).strip():
                problems.add('empty_expression', f'{where}: empty expression')
            items.append((where, info))
    cache: Dict[str, Optional[Tuple[int, int]]] = {}
    for where, info in _progress(items, len(items), progress, 'checking samples'):
        path = info['img_path']
        if path not in cache:
            cache[path] = _read_image(path, problems, where)
        img_hw = cache[path]
        if info.get('height') is None and img_hw is not None:
            info = dict(info, height=img_hw[0], width=img_hw[1])
        try:
            mask = loader(dict(info))['gt_seg_map']
        except FileNotFoundError as e:
            problems.add('missing_mask', f'{where}: {e}')
            continue
        except Exception as e:  # noqa: BLE001
            problems.add('unreadable_mask', f'{where}: {e}')
            continue
        if img_hw is not None and tuple(mask.shape) != tuple(img_hw):
            problems.add('size_mismatch', f'{where}: mask {mask.shape[1]}x{mask.shape[0]} vs '
                         f'image {img_hw[1]}x{img_hw[0]} (WxH): {path}')
        if not mask.any() and not info.get('no_target'):
            problems.add('empty_mask', f'{where}: mask has no foreground pixel: {path}')
    for split, n in per_split.items():
        if n == 0:
            problems.add('empty_split', f'{split}: no samples')
    return per_split


def check_dataset(kind: str,
                  data_root: str,
                  splits: Sequence[str] = ('train', 'val', 'test'),
                  max_examples: int = 10,
                  progress: bool = False,
                  **kwargs) -> dict:
    """Check a data root of any kind for every problem listed in the module docstring.

    Args:
        kind (str): One of :data:`DATASET_KINDS` (``'refsegrs'``, ``'rrsisd'``, ``'rrsishr'``,
            ``'risbench'``, ``'nwpu'``, ``'jsonl'``).
        data_root (str): The data root, as given to the dataset class.
        splits (sequence[str]): Splits to check. Defaults to train, val and test.
        max_examples (int): Examples kept per problem kind. Defaults to 10.
        progress (bool): Show a progress bar on stderr. Defaults to False.
        **kwargs: Layout overrides: RefSegRS / RISBench ``img_dir``, ``mask_dir``,
            ``phrase_file``; REFER ``dataset``, ``split_by``, ``img_dir``; NWPU-Refer and
            jsonl: their dataset class's arguments (``ann_file``, ``img_dir`` ...).

    Returns:
        dict: ``kind``, ``data_root``, ``splits`` (samples per split), ``num_samples``,
        ``errors`` and ``warnings`` (every kind, each ``{'count', 'examples'}``),
        ``num_errors``, ``num_warnings`` and ``ok`` (no errors).
    """
    if kind not in DATASET_KINDS:
        raise ValueError(f'kind must be one of {DATASET_KINDS}, got {kind!r}')
    problems = _Problems(max_examples)
    if not osp.isdir(data_root):
        problems.add('missing_file', f'data root is not a directory: {data_root}')
        per_split = {s: 0 for s in splits}
    elif kind == 'refsegrs':
        per_split = _check_refsegrs(data_root, splits, problems, progress, **kwargs)
    elif kind == 'risbench':
        kwargs = dict(dict(img_dir='img_rgb', mask_dir='mask', suffix='', mask_threshold=0),
                      **kwargs)
        per_split = _check_refsegrs(data_root, splits, problems, progress, **kwargs)
    elif kind == 'rrsisd':
        per_split = _check_refer(data_root, splits, problems, progress, **kwargs)
    elif kind == 'rrsishr':
        kwargs = dict(dict(dataset='rrsishr', img_dir='images/rrsishr/JPEGImages'), **kwargs)
        per_split = _check_refer(data_root, splits, problems, progress, **kwargs)
    else:  # nwpu, jsonl
        per_split = _check_via_dataset(kind, data_root, splits, problems, progress, **kwargs)
    errors = {k: problems.items[k] for k in ERROR_KINDS}
    warnings = {k: problems.items[k] for k in WARNING_KINDS}
    num_errors = sum(v['count'] for v in errors.values())
    return dict(kind=kind, data_root=data_root, splits=per_split,
                num_samples=sum(per_split.values()), errors=errors, warnings=warnings,
                num_errors=num_errors, num_warnings=sum(v['count'] for v in warnings.values()),
                ok=num_errors == 0)


def format_report(report: dict) -> str:
    """A human-readable summary of a :func:`check_dataset` report."""
    out = [f'{report["kind"]} data at {report["data_root"]}: ' + ', '.join(
        f'{s} {n}' for s, n in report['splits'].items()) + f' (total {report["num_samples"]})']
    for level in ('errors', 'warnings'):
        for kind, entry in report[level].items():
            if entry['count']:
                out.append(f'{level[:-1].upper()} {kind}: {entry["count"]}')
                out += [f'    {ex}' for ex in entry['examples']]
                if entry['count'] > len(entry['examples']):
                    out.append(f'    ... and {entry["count"] - len(entry["examples"])} more')
    out.append(f'{report["num_errors"]} error(s), {report["num_warnings"]} warning(s): '
               + ('OK' if report['ok'] else 'FAILED'))
    return '\n'.join(out)
