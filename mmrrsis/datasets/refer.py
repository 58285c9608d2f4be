# Copyright (c) mmrrsis contributors. All rights reserved.
import json
import os.path as osp
import pickle
import random
from typing import List

from mmengine.fileio import get_local_path
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .refsegrs import RRSIS_METAINFO


def refer_split_match(ref_split: str, split: str) -> bool:
    """REFER's ``getRefIds(split=...)`` semantics.

    ``'train'``/``'val'`` (and any other plain name) match exactly; ``'test'`` matches every split
    containing ``'test'`` (``testA``, ``testB`` ...); ``'testA'``/``'testB'``/``'testC'`` match
    every split containing their letter (so ``testAB`` counts for both); ``'testAB'`` etc.
    match exactly.
    """
    if split in ('testA', 'testB', 'testC'):
        return split[-1] in ref_split
    if split == 'test':
        return 'test' in ref_split
    return ref_split == split


def read_refer_files(refs_file: str, instances_file: str):
    """Unpickle the refs and parse ``instances.json``; errors name the file.

    Returns:
        tuple: ``(refs, instances)``.
    """
    try:
        with get_local_path(refs_file) as path, open(path, 'rb') as f:
            refs = pickle.load(f)
    except Exception as e:
        raise ValueError(f'Cannot read the refs pickle {refs_file}: {e}') from e
    try:
        with get_local_path(instances_file) as path, open(path, encoding='utf-8') as f:
            instances = json.load(f)
    except Exception as e:
        raise ValueError(f'Cannot read {instances_file}: {e}') from e
    return refs, instances


@DATASETS.register_module()
def sentence_text(sentence: dict, where: str) -> str:
    """The expression of a REFER sentence record (``raw``, else ``sent``), checked to be a
    string at load time, so that a broken record fails here, naming the file and the ref, and
    not in the text encoder at some training iteration."""
    text = sentence.get('raw', sentence.get('sent', ''))
    if not isinstance(text, str):
        raise ValueError(f"{where}, sentence {sentence.get('sent_id')!r}: the expression "
                         f"('raw' / 'sent') must be a string, got {type(text).__name__}: "
                         f'{text!r}')
    return text


class ReferDataset(BaseSegDataset):
    """Referring segmentation data in the REFER format (RefCOCO/+/g, RRSIS-D).

    Reads ``<data_root>/<dataset>/refs(<split_by>).p`` (a pickled list of refs) and
    ``<data_root>/<dataset>/instances.json`` (COCO-like images / annotations / categories; masks
    as polygons, compressed or uncompressed RLE). Images are resolved through each ref's
    ``file_name`` under ``img_dir``.

    One data_info per (ref, sentence) pair, as the reference ``test.py`` scores them. With
    ``train_text_mode='random'`` (training only) there is one item per ref instead and each
    ``__getitem__`` draws one of its sentences at random, which is the reference training loader's
    behaviour (LAVT/RMSIN: ``np.random.choice`` per load). For RRSIS-D (one sentence per ref)
    both modes give the same samples.

    The category name comes from the ref's ``category_id`` (else the annotation's
    ``category_id`` or ``categories_id``, RRSIS-D's spelling) looked up in ``categories``; an id
    missing from ``categories`` gives ``category=None`` and a logged warning.

    Args:
        data_root (str): The REFER data root.
        split (str): ``'train'``, ``'val'``, ``'test'``, ``'testA'`` ... (REFER semantics).
        dataset (str): Sub-folder of ``data_root`` holding the annotation files.
        split_by (str): ``'unc'``, ``'umd'``, ``'google'`` (file ``refs(<split_by>).p``).
        img_dir (str): Image folder relative to ``data_root``.
        train_text_mode (str): ``'all'`` (one sample per sentence, default) or ``'random'``.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """

    METAINFO = RRSIS_METAINFO

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 dataset: str = 'refcoco',
                 split_by: str = 'unc',
                 img_dir: str = 'images/mscoco/images/train2014',
                 train_text_mode: str = 'all',
                 **kwargs) -> None:
        if train_text_mode not in ('all', 'random'):
            raise ValueError(f"train_text_mode must be 'all' or 'random', got {train_text_mode!r}")
        self.split = split
        self.dataset_name = dataset
        self.split_by = split_by
        self.train_text_mode = train_text_mode
        self.instances_file = osp.join(dataset, 'instances.json')
        super().__init__(
            data_root=data_root,
            ann_file=osp.join(dataset, f'refs({split_by}).p'),
            data_prefix=dict(img_path=img_dir),
            **kwargs)

    def _read_files(self):
        inst_file = osp.join(self.data_root or '', self.instances_file)
        for f in (self.ann_file, inst_file):
            if not osp.isfile(f):
                raise FileNotFoundError(
                    f'REFER annotation file not found: {f} (data_root={self.data_root!r} must '
                    f'hold {self.dataset_name}/refs({self.split_by}).p and '
                    f'{self.dataset_name}/instances.json)')
        refs, instances = read_refer_files(self.ann_file, inst_file)
        return refs, instances, inst_file

    def load_data_list(self) -> List[dict]:
        """One data_info per (ref, sentence) (or per ref with ``train_text_mode='random'``)."""
        refs, instances, inst_file = self._read_files()
        anns = {a['id']: a for a in instances.get('annotations', [])}
        imgs = {i['id']: i for i in instances.get('images', [])}
        cats = {c['id']: c['name'] for c in instances.get('categories', [])}
        random_mode = self.train_text_mode == 'random' and not self.test_mode
        img_dir = self.data_prefix.get('img_path', '')
        data_list, unknown_cats, no_sent = [], set(), 0
        for ref in refs:
            if not refer_split_match(ref['split'], self.split):
                continue
            ann = anns.get(ref['ann_id'])
            if ann is None:
                raise ValueError(f'{inst_file}: ref {ref["ref_id"]} points at annotation '
                                 f'{ref["ann_id"]}, which does not exist')
            img_info = imgs.get(ref['image_id'], {})
            cat_id = ref.get('category_id', ann.get('category_id', ann.get('categories_id')))
            category = cats.get(cat_id)
            if category is None:
                unknown_cats.add(cat_id)
            file_name = ref.get('file_name') or img_info.get('file_name')
            base = dict(
                img_path=osp.join(img_dir, file_name),
                ref_id=ref['ref_id'],
                image_id=ref['image_id'],
                ann_id=ref['ann_id'],
                ann_source=inst_file,
                category=category,
                segmentation=ann['segmentation'],
                height=img_info.get('height'),
                width=img_info.get('width'),
                label_map=self.label_map,
                reduce_zero_label=self.reduce_zero_label,
                seg_fields=[])
            sentences = ref.get('sentences', [])
            if not sentences:
                no_sent += 1
                continue
            where = f'{self.ann_file}: ref {ref["ref_id"]}'
            if random_mode:
                data_list.append(
                    dict(base,
                         sentences=[(s['sent_id'], sentence_text(s, where))
                                    for s in sentences]))
            else:
                for s in sentences:
                    data_list.append(
                        dict(base, text=sentence_text(s, where), sent_id=s['sent_id']))
        if not data_list:
            split_names = sorted({r['split'] for r in refs})
            raise ValueError(f'{self.ann_file}: no refs for split {self.split!r} '
                             f'(splits in the file: {split_names})')
        seen, dups = set(), []
        for info in data_list:
            key = (info['ref_id'], info.get('sent_id'))
            if key in seen:
                dups.append(key)
            seen.add(key)
        if dups:
            print_log(f'{self.ann_file}: {len(dups)} duplicate (ref_id, sent_id) pair(s) in split '
                      f'{self.split!r}, kept (first: {dups[:5]}); tools/misc/check_dataset.py '
                      'lists them', logger='current', level=30)
        if unknown_cats:
            print_log(f'{inst_file}: category id(s) {sorted(unknown_cats, key=str)} are not in '
                      "'categories'; those samples get category=None", logger='current',
                      level=30)
        if no_sent:
            print_log(f'{self.ann_file}: skipped {no_sent} ref(s) without sentences',
                      logger='current', level=30)
        return data_list

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        sentences = info.pop('sentences', None)
        if sentences is not None:  # train_text_mode='random': one sentence per load
            info['sent_id'], info['text'] = random.choice(sentences)
        return info


@DATASETS.register_module()
class RRSISDDataset(ReferDataset):
    """RRSIS-D (Liu et al., RMSIN, CVPR 2024, https://arxiv.org/abs/2312.12470).

    A :class:`ReferDataset` preset: ``<data_root>/rrsisd/refs(unc).p``,
    ``<data_root>/rrsisd/instances.json`` and images in
    ``<data_root>/images/rrsisd/JPEGImages/``. Masks are compressed RLE; the annotation category
    key is ``categories_id``. One ref and one sentence per image, so each split has one sample
    per image (12,181 / 1,740 / 3,481 in the released files; check with
    ``tools/misc/check_dataset.py``).
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 dataset: str = 'rrsisd',
                 split_by: str = 'unc',
                 img_dir: str = 'images/rrsisd/JPEGImages',
                 **kwargs) -> None:
        super().__init__(data_root=data_root, split=split, dataset=dataset, split_by=split_by,
                         img_dir=img_dir, **kwargs)
