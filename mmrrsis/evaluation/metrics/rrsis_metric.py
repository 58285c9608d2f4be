# Copyright (c) mmrrsis contributors. All rights reserved.
import json
import os
import os.path as osp
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.registry import METRICS

from mmrrsis.utils.text import (
    REFSEGRS_CATEGORIES,
    RISBENCH_CATEGORY_WORDS,
    RRSISD_CATEGORIES,
    SYNTH_CATEGORY_WORDS,
    match_category,
    normalize_category,
)

#: Category presets accepted by ``RRSISMetric(categories=...)``.
CATEGORY_PRESETS: Dict[str, Union[Tuple[str, ...], Dict[str, Tuple[str, ...]]]] = {
    'refsegrs': tuple(REFSEGRS_CATEGORIES),
    'rrsisd': tuple(RRSISD_CATEGORIES.values()),
    'synth': SYNTH_CATEGORY_WORDS,  # with the synonyms the generator uses ("lake" = pond)
    'risbench': RISBENCH_CATEGORY_WORDS,  # 26 classes, DiCoR's aliases
}

SIZE_BUCKETS = ('small', 'medium', 'large')


@METRICS.register_module()
class RRSISMetric(BaseMetric):
    """Referring (remote sensing) image segmentation metric: oIoU, mIoU and Pr@X.

    This follows the evaluation protocol of the reference implementations (the ``test.py`` of
    LAVT, RMSIN and FIANet; LGCE evaluates the same way). One sample is one (image, expression)
    pair. For each sample the binary prediction ``P`` and ground truth ``G`` give
    ``I = |P & G|`` and ``U = |P | G|`` and ``IoU = I / U``; a sample whose union is empty
    (empty prediction *and* empty ground truth) has IoU 0 and still counts. Over the split:

    - ``oIoU`` (overall or cumulative IoU, "cIoU") = 100 * sum(I) / sum(U);
    - ``mIoU`` = 100 * mean of the per-sample IoU;
    - ``Pr@t`` = 100 * share of samples with ``IoU >= t`` (inclusive, so an IoU of exactly 0.5
      counts for ``Pr@0.5``).

    Note:
        MMSeg's ``IoUMetric`` on the classes ``('background', 'target')`` reports an ``mIoU``
        that averages the background and target IoU. That is *not* the RIS mIoU above; only
        its ``target`` IoU matches ``oIoU`` (at the same resolution).

    The metric compares whatever ``pred_sem_seg`` and ``gt_sem_seg`` it receives, at their
    resolution. Under the *paper protocol* the test pipeline resizes the image to 480x480,
    nearest-resizes the ground truth with it and sets ``ori_shape = img_shape``, so that the
    prediction stays at the 480x480 network input resolution, as in the reference code. Under
    the *original-resolution protocol* the ground truth is loaded at the original size and the
    logits are resized to ``ori_shape``; those numbers are not comparable with the papers.

    Breakdowns:

    - Per category: a sample's category is its metainfo ``category`` when that is not ``None``
      (RRSIS-D; dataset names are turned into words with
      :func:`mmrrsis.utils.text.normalize_category`). Otherwise, if ``categories`` is given, the
      category named first in the expression (its ``orig_text`` under the language controls
      ``ShuffledTextDataset`` / ``BlankTextDataset``; whole words, optional plural 's', see
      :func:`mmrrsis.utils.text.match_category`); expressions naming none are counted as
      ``num_unmatched_category``. Keys are ``cat/<name>/{count,mIoU,oIoU}`` with spaces in the
      name replaced by ``_`` (e.g. ``cat/storage_tank/mIoU``).
    - Per object size: the ground-truth area as a fraction of the image area at evaluation
      resolution. With ``size_thresholds=(s, m)``: ``small`` is ``< s``, ``medium`` is
      ``[s, m)`` and ``large`` is ``>= m`` (by default small < 1 %, medium 1-10 %,
      large >= 10 %). Keys are ``size/<bucket>/{count,mIoU,oIoU}``. Samples with an empty
      ground truth are reported in their own bucket ``empty`` rather than as ``small``.

    All values are floats in percent except the counts; they are not rounded (the logged table
    shows two decimals).

    Args:
        thresholds (Sequence[float]): IoU thresholds of the ``Pr@t`` keys, in (0, 1].
            Defaults to (0.5, 0.6, 0.7, 0.8, 0.9).
        categories (Sequence[str] | dict | str, optional): Natural-language category names
            used to derive a category from the expression when the metainfo has none, a
            mapping from each name to the words that stand for it, or a preset name:
            ``'refsegrs'`` (RefSegRS's 14 classes), ``'rrsisd'`` (RRSIS-D's 20 classes) or
            ``'synth'`` (the synthetic set's 7, with their synonyms). Defaults to None
            (metainfo categories only).
        size_thresholds (Sequence[float]): Two increasing fractions of the image area that
            separate small, medium and large objects. Defaults to (0.01, 0.10).
        per_category (bool): Whether to report the per-category breakdown. Defaults to True.
        per_size (bool): Whether to report the per-size breakdown. Defaults to True.
        output_file (str, optional): If given, write one JSON line per sample (``img_path``,
            ``ref_id``, ``sent_id``, ``text``, ``category``, ``size``, ``I``, ``U``, ``iou``)
            to this file in :meth:`compute_metrics`. Defaults to None.
        generalized (bool, optional): Also report the generalized-referring scores of GRES
            (Liu et al., CVPR 2023) as ``gIoU``, ``cIoU``, ``N-acc``, ``T-acc`` (percent):
            ``gIoU`` is the mean per-sample IoU where an empty prediction on a no-target sample
            counts 1 and any foreground on it 0; ``cIoU`` = sum I / sum U over all samples
            (= ``oIoU``); ``N-acc`` the share of no-target samples predicted empty; ``T-acc``
            the share of target samples predicted non-empty. A sample is no-target when its
            metainfo says so (``no_target``, NWPU-Refer) or, without that key, when its ground
            truth is empty. None (default) reports them only when the data has at least one
            no-target sample. The paper metrics keep their convention (an empty union counts
            0 in ``mIoU``).
        output_dir (str, optional): If given, save every predicted mask as a PNG (0/255,
            ``<output_dir>/masks/<ref_id>_<sent_id>.png``, a ``_<k>`` suffix for a repeated
            pair) while processing, add its path as ``mask_file`` to the per-sample records,
            and write those records to ``<output_dir>/results.jsonl`` unless ``output_file``
            says otherwise (``tools/test.py --out DIR``). Defaults to None.
        collect_device (str): Device used to collect results across ranks, ``'cpu'`` or
            ``'gpu'``. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to None, which keeps the
            plain names (``oIoU`` for ``save_best='oIoU'``).
    """

    def __init__(self,
                 thresholds: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9),
                 categories: Optional[Union[Sequence[str], str]] = None,
                 size_thresholds: Sequence[float] = (0.01, 0.10),
                 per_category: bool = True,
                 per_size: bool = True,
                 output_file: Optional[str] = None,
                 output_dir: Optional[str] = None,
                 generalized: Optional[bool] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, **kwargs)
        thresholds = tuple(float(t) for t in thresholds)
        if not thresholds or any(not 0 < t <= 1 for t in thresholds):
            raise ValueError(f'thresholds must be non-empty and in (0, 1], got {thresholds}')
        self.thresholds = thresholds

        if isinstance(categories, str):
            key = categories.lower().replace('-', '')
            if key not in CATEGORY_PRESETS:
                raise ValueError(f'Unknown category preset {categories!r}; expected one of '
                                 f'{sorted(CATEGORY_PRESETS)} or a sequence of names')
            categories = CATEGORY_PRESETS[key]
        if isinstance(categories, Mapping):
            categories = {str(k): tuple(v) for k, v in categories.items()}
        elif categories is not None:
            categories = tuple(categories)
        self.categories = categories

        size_thresholds = tuple(float(s) for s in size_thresholds)
        if len(size_thresholds) != 2 or not 0 < size_thresholds[0] < size_thresholds[1] <= 1:
            raise ValueError('size_thresholds must be two increasing fractions in (0, 1], '
                             f'got {size_thresholds}')
        self.size_thresholds = size_thresholds
        self.per_category = per_category
        self.per_size = per_size
        self.output_dir = output_dir
        self.generalized = generalized
        if output_dir is not None and output_file is None:
            output_file = osp.join(output_dir, 'results.jsonl')
        self.output_file = output_file
        self._mask_names: Dict[str, int] = {}

    @staticmethod
    def _to_2d(data: Any) -> torch.Tensor:
        """(1, H, W) or (H, W) tensor/array -> (H, W) tensor (keeps H or W of size 1)."""
        data = torch.as_tensor(data)
        while data.dim() > 2 and data.shape[0] == 1:
            data = data[0]
        return data

    def _size_bucket(self, gt_area: int, num_pixels: int) -> str:
        if gt_area == 0:
            return 'empty'
        frac = gt_area / num_pixels
        if frac < self.size_thresholds[0]:
            return 'small'
        if frac < self.size_thresholds[1]:
            return 'medium'
        return 'large'

    def _category(self, data_sample: dict) -> Tuple[Optional[str], Optional[str]]:
        """Return ``(category, source)`` with source ``'metainfo'``, ``'text'`` or None."""
        category = data_sample.get('category')
        if category is not None:
            return normalize_category(str(category)), 'metainfo'
        if self.categories is not None:
            # the expression the sample was annotated with, also under the language controls
            # (ShuffledTextDataset / BlankTextDataset keep it in ``orig_text``)
            text = data_sample.get('orig_text') or data_sample.get('text')
            matched = match_category(text, self.categories) if text else None
            return matched, 'text'
        return None, None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Compute I and U of each sample and store them in ``self.results``.

        Args:
            data_batch (Any): Unused.
            data_samples (Sequence[dict]): Data samples as dicts with ``pred_sem_seg.data``
                ((1, H, W) class indices, or 0/1 floats from a sigmoid head; non-zero is
                foreground), ``gt_sem_seg.data`` ((1, H, W), 1 is foreground, everything else
                including the ignore index 255 is not) and the metainfo keys ``text``,
                ``category``, ``ref_id``, ``sent_id`` and ``img_path``.
        """
        for data_sample in data_samples:
            pred = self._to_2d(data_sample['pred_sem_seg']['data']) != 0
            gt = self._to_2d(data_sample['gt_sem_seg']['data']).to(pred.device) == 1
            if pred.shape != gt.shape:
                raise ValueError(
                    f'RRSISMetric: prediction shape {tuple(pred.shape)} differs from ground '
                    f'truth shape {tuple(gt.shape)} for sample '
                    f"{data_sample.get('img_path')!r}; check that the test pipeline's "
                    "'ori_shape' matches the loaded annotation")
            inter = int((pred & gt).sum().item())
            union = int((pred | gt).sum().item())
            gt_area = int(gt.sum().item())
            category, source = self._category(data_sample)
            flag = data_sample.get('no_target')
            extra = dict(no_target=bool(flag) if flag is not None else gt_area == 0,
                         pred_empty=not bool(pred.any()))
            if self.output_dir is not None:
                extra['mask_file'] = self._save_mask(pred, data_sample)
            self.results.append(
                dict(
                    I=inter,
                    U=union,
                    iou=inter / union if union > 0 else 0.0,
                    category=category,
                    category_source=source,
                    size=self._size_bucket(gt_area, gt.numel()),
                    ref_id=_plain(data_sample.get('ref_id')),
                    sent_id=_plain(data_sample.get('sent_id')),
                    text=data_sample.get('text'),
                    img_path=data_sample.get('img_path'),
                    **extra))

    def _save_mask(self, pred: torch.Tensor, data_sample: dict) -> str:
        """Write the predicted mask (H, W) bool as a 0/255 PNG; return its path."""
        from PIL import Image
        stem = '_'.join(
            re.sub(r'[^A-Za-z0-9.-]+', '-', str(data_sample.get(k))) for k in ('ref_id', 'sent_id'))
        count = self._mask_names.get(stem, 0) + 1
        self._mask_names[stem] = count
        name = stem if count == 1 else f'{stem}_{count}'
        mask_dir = osp.join(self.output_dir, 'masks')
        os.makedirs(mask_dir, exist_ok=True)
        path = osp.join(mask_dir, name + '.png')
        Image.fromarray(pred.cpu().numpy().astype(np.uint8) * 255).save(path)
        return path

    def _summarize(self, results: List[dict]) -> Dict[str, float]:
        """oIoU, mIoU and Pr@t (percent) and the count of a group of samples."""
        inter = sum(r['I'] for r in results)
        union = sum(r['U'] for r in results)
        ious = np.array([r['iou'] for r in results], dtype=np.float64)
        summary: Dict[str, float] = dict(count=len(results))
        summary['oIoU'] = 100.0 * inter / union if union > 0 else 0.0
        summary['mIoU'] = 100.0 * float(ious.mean()) if len(ious) else 0.0
        for t in self.thresholds:
            summary[f'Pr@{t}'] = 100.0 * float((ious >= t).mean()) if len(ious) else 0.0
        return summary

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute the metrics from the per-sample results of all ranks.

        Args:
            results (list[dict]): What :meth:`process` stored for every sample.

        Returns:
            dict[str, float]: ``oIoU``, ``mIoU``, ``Pr@t`` for each threshold,
            ``num_samples``, ``num_empty_union``, ``num_unmatched_category`` (when categories
            are derived from the text) and the ``cat/...`` and ``size/...`` breakdowns.
        """
        overall = self._summarize(results)
        metrics: Dict[str, float] = dict()
        metrics['oIoU'] = overall['oIoU']
        metrics['mIoU'] = overall['mIoU']
        for t in self.thresholds:
            metrics[f'Pr@{t}'] = overall[f'Pr@{t}']
        metrics['num_samples'] = len(results)
        metrics['num_empty_union'] = sum(1 for r in results if r['U'] == 0)

        from_text = [r for r in results if r['category_source'] == 'text']
        if from_text:
            metrics['num_unmatched_category'] = sum(1 for r in from_text if r['category'] is None)

        table_rows = [('all', overall)]
        if self.per_category:
            for name, group in self._group(results, 'category', self._category_order(results)):
                summary = self._summarize(group)
                table_rows.append((f'cat: {name}', summary))
                key = name.replace(' ', '_')
                for field in ('count', 'mIoU', 'oIoU'):
                    metrics[f'cat/{key}/{field}'] = summary[field]
        if self.per_size:
            for name, group in self._group(results, 'size', SIZE_BUCKETS + ('empty', )):
                summary = self._summarize(group)
                table_rows.append((f'size: {name}', summary))
                for field in ('count', 'mIoU', 'oIoU'):
                    metrics[f'size/{name}/{field}'] = summary[field]

        no_target = [r for r in results if r.get('no_target')]
        if self.generalized or (self.generalized is None and no_target):
            metrics.update(self.generalized_scores(results))
        self._log_table(table_rows, results)
        if self.output_file is not None:
            self._dump(results)
        return metrics

    @staticmethod
    def generalized_scores(results: List[dict]) -> Dict[str, float]:
        """GRES scores (percent): ``gIoU``, ``cIoU``, ``N-acc``, ``T-acc`` and the counts
        ``num_no_target`` / ``num_target`` (see the ``generalized`` argument)."""
        if not results:
            return {}
        nt = [r for r in results if r['no_target']]
        tg = [r for r in results if not r['no_target']]
        per_sample = [(1.0 if r['pred_empty'] else 0.0) if r['no_target'] else r['iou']
                      for r in results]
        inter = sum(r['I'] for r in results)
        union = sum(r['U'] for r in results)
        out = {'gIoU': 100.0 * float(np.mean(per_sample)),
               'cIoU': 100.0 * inter / union if union > 0 else 0.0,
               'num_no_target': len(nt), 'num_target': len(tg)}
        if nt:
            out['N-acc'] = 100.0 * sum(r['pred_empty'] for r in nt) / len(nt)
        if tg:
            out['T-acc'] = 100.0 * sum(not r['pred_empty'] for r in tg) / len(tg)
        return out

    def _category_order(self, results: List[dict]) -> List[str]:
        found = {r['category'] for r in results if r['category'] is not None}
        order = [c for c in (self.categories or ()) if c in found]
        return order + sorted(found.difference(order))

    @staticmethod
    def _group(results: List[dict], field: str,
               order: Sequence[str]) -> List[Tuple[str, List[dict]]]:
        groups = [(name, [r for r in results if r[field] == name]) for name in order]
        return [(name, group) for name, group in groups if group]

    def _log_table(self, rows: List[Tuple[str, Dict[str, float]]], results: List[dict]) -> None:
        header = ['group', 'count', 'oIoU', 'mIoU'] + [f'Pr@{t}' for t in self.thresholds]
        body = [[name, str(s['count'])] + [f'{s[k]:.2f}' for k in header[2:]] for name, s in rows]
        try:
            from prettytable import PrettyTable
        except ImportError:
            widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]
            table = '\n'.join('  '.join(cell.rjust(w) for cell, w in zip(row, widths))
                              for row in [header] + body)
        else:
            pretty = PrettyTable(field_names=header)
            pretty.align = 'r'
            pretty.align['group'] = 'l'
            for row in body:
                pretty.add_row(row)
            table = pretty.get_string()

        lines = ['RRSIS results (percent; IoU of an empty union counts 0, Pr@t uses IoU >= t):',
                 table]
        if self.per_category:
            num_meta = sum(1 for r in results if r['category_source'] == 'metainfo')
            from_text = [r for r in results if r['category_source'] == 'text']
            source = f'category source: metainfo "category" for {num_meta} samples'
            if from_text:
                unmatched = sum(1 for r in from_text if r['category'] is None)
                source += (f', whole-word text matching against {len(self.categories)} names '
                           f'for {len(from_text)} samples ({unmatched} unmatched)')
            num_none = len(results) - num_meta - len(from_text)
            if num_none:
                source += f', none for {num_none} samples (no `categories` for text matching)'
            lines.append(source)
        if self.per_size:
            small, large = (100 * s for s in self.size_thresholds)
            lines.append(f'size rule: GT area / image area at evaluation resolution: '
                         f'small < {small:g}%, medium {small:g}-{large:g}%, large >= {large:g}%, '
                         'empty = no GT pixel')
        print_log('\n'.join(lines), logger='current')

    def _dump(self, results: List[dict]) -> None:
        keys = ('img_path', 'ref_id', 'sent_id', 'text', 'category', 'size', 'I', 'U', 'iou')
        out_dir = osp.dirname(osp.abspath(self.output_file))
        os.makedirs(out_dir, exist_ok=True)
        with open(self.output_file, 'w', encoding='utf-8') as f:
            for r in results:
                rec = {k: r[k] for k in keys}
                rec.update({k: r[k] for k in ('no_target', 'mask_file') if k in r})
                f.write(json.dumps(rec, ensure_ascii=False) + '\n')
        print_log(f'Per-sample RRSIS results written to {self.output_file}', logger='current')


def _plain(value: Any) -> Any:
    """Turn numpy / torch scalars into Python values so that they are JSON-serialisable."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 0:
        return value.item()
    return value
