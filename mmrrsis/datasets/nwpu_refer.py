# Copyright (c) mmrrsis contributors. All rights reserved.
import os.path as osp
from collections import OrderedDict
from typing import List, Optional, Sequence

from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .refer import read_refer_files, refer_split_match, sentence_text
from .refsegrs import RRSIS_METAINFO

#: File names of NWPU-Refer releases, newest first (older archives drop the ``new_`` prefix).
NWPU_REFS = ('new_refs(unc).p', 'refs(unc).p')
NWPU_INSTANCES = ('new_instances.json', 'instances.json')
NWPU_IMAGE_DIRS = ('image/image', 'image', 'images')


def _target_ids(ann_id) -> List:
    """The annotation ids a ref points at: an int, a list of ints, or none (``None``, ``-1``,
    ``[]``, ``[-1]``: a no-target ref)."""
    if ann_id is None:
        return []
    ids = list(ann_id) if isinstance(ann_id, (list, tuple)) else [ann_id]
    return [a for a in ids if a is not None and a != -1]


@DATASETS.register_module()
class NWPUReferDataset(BaseSegDataset):
    """NWPU-Refer (Yang et al., https://arxiv.org/abs/2506.03583): 15,003 images of 1024-2048 px,
    single-, multi- and no-target expressions.

    Layout of ``data_root`` (REFER-like; no official loader is published, these are the names
    third-party loaders use; the first that exists is taken)::

        new_refs(unc).p | refs(unc).p               pickled list of refs
        new_instances.json | instances.json         COCO-like images / annotations / categories
        image/image/ | image/ | images/             images, by each ref's (or image's) file_name

    **One sample per (image, sentence, split)**: refs that share an image and a sentence are one
    expression referring to several objects (each such ref one object); the target mask is the
    union of all their annotations (``segmentations`` in the data info, one per object). A ref
    whose ``ann_id`` is ``None``, ``-1``, ``[]`` or ``[-1]`` refers to nothing: the sample's mask
    is empty and ``no_target=True`` (the metric then adds the GRES scores). A list ``ann_id``
    (gRefCOCO style) is a multi-target ref of its own. ``test`` matches every split containing
    "test" (REFER semantics). ``language='en'`` keeps only ASCII sentences (the release mixes
    languages in places); ``'all'`` keeps every sentence.

    Data info keys besides the usual: ``segmentations`` (list), ``ann_ids``, ``num_targets``,
    ``no_target`` (bool), ``height``, ``width``.

    Args:
        data_root (str): The NWPU-Refer root.
        split (str): ``'train'``, ``'val'``, ``'test'`` or a test subset name.
        refs_file (str, optional): Default: the first of :data:`NWPU_REFS` that exists.
        instances_file (str, optional): Default: the first of :data:`NWPU_INSTANCES`.
        img_dir (str, optional): Default: the first of :data:`NWPU_IMAGE_DIRS` that exists.
        language (str): ``'all'`` or ``'en'``. Defaults to ``'all'``.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """

    METAINFO = RRSIS_METAINFO

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 refs_file: Optional[str] = None,
                 instances_file: Optional[str] = None,
                 img_dir: Optional[str] = None,
                 language: str = 'all',
                 **kwargs) -> None:
        if language not in ('all', 'en'):
            raise ValueError(f"language must be 'all' or 'en', got {language!r}")
        self.split = split
        self.language = language
        refs_file = refs_file or self._first(data_root, NWPU_REFS)
        self.instances_file = instances_file or self._first(data_root, NWPU_INSTANCES)
        img_dir = img_dir or self._first(data_root, NWPU_IMAGE_DIRS, isdir=True)
        super().__init__(data_root=data_root, ann_file=refs_file,
                         data_prefix=dict(img_path=img_dir), **kwargs)

    @staticmethod
    def _first(root: str, names: Sequence[str], isdir: bool = False) -> str:
        check = osp.isdir if isdir else osp.isfile
        for name in names:
            if check(osp.join(root, name)):
                return name
        return names[0]

    def load_data_list(self) -> List[dict]:
        inst_file = osp.join(self.data_root or '', self.instances_file)
        for f in (self.ann_file, inst_file):
            if not osp.isfile(f):
                raise FileNotFoundError(
                    f'NWPU-Refer annotation file not found: {f} (data_root={self.data_root!r} '
                    f'must hold one of {NWPU_REFS} and one of {NWPU_INSTANCES})')
        refs, instances = read_refer_files(self.ann_file, inst_file)
        anns = {a['id']: a for a in instances.get('annotations', [])}
        imgs = {i['id']: i for i in instances.get('images', [])}
        cats = {c['id']: c['name'] for c in instances.get('categories', [])}
        img_dir = self.data_prefix.get('img_path', '')

        groups: 'OrderedDict[tuple, dict]' = OrderedDict()
        skipped_lang = 0
        for ref in refs:
            if not refer_split_match(str(ref.get('split')), self.split):
                continue
            ids = _target_ids(ref.get('ann_id'))
            missing = [a for a in ids if a not in anns]
            if missing:
                raise ValueError(f'{inst_file}: ref {ref.get("ref_id")} points at annotation(s) '
                                 f'{missing}, which do not exist')
            for s in ref.get('sentences', []):
                text = sentence_text(s, f'{self.ann_file}: ref {ref.get("ref_id")}')
                if self.language == 'en' and not text.isascii():
                    skipped_lang += 1
                    continue
                key = (ref['image_id'], text)
                g = groups.get(key)
                if g is None:
                    img_info = imgs.get(ref['image_id'], {})
                    file_name = ref.get('file_name') or img_info.get('file_name')
                    g = groups[key] = dict(
                        img_path=osp.join(img_dir, file_name), text=text,
                        ref_id=ref['ref_id'], sent_id=s.get('sent_id'),
                        image_id=ref['image_id'], ref_ids=[], ann_ids=[], segmentations=[],
                        categories=[], height=img_info.get('height'),
                        width=img_info.get('width'), label_map=self.label_map,
                        reduce_zero_label=self.reduce_zero_label, seg_fields=[])
                g['ref_ids'].append(ref['ref_id'])
                for a in ids:
                    if a not in g['ann_ids']:
                        g['ann_ids'].append(a)
                        g['segmentations'].append(anns[a]['segmentation'])
                cat_id = ref.get('category_id')
                if ids and cats.get(cat_id) is not None:
                    g['categories'].append(cats[cat_id])
        data_list = []
        for g in groups.values():
            names = sorted(set(g.pop('categories')))
            g['num_targets'] = len(g['ann_ids'])
            g['no_target'] = g['num_targets'] == 0
            g['category'] = names[0] if len(names) == 1 else None
            data_list.append(g)
        if not data_list:
            split_names = sorted({str(r.get('split')) for r in refs})
            raise ValueError(f'{self.ann_file}: no refs for split {self.split!r} '
                             f'(splits in the file: {split_names})')
        n_multi = sum(g['num_targets'] > 1 for g in data_list)
        n_none = sum(g['no_target'] for g in data_list)
        print_log(f'NWPU-Refer {self.split}: {len(data_list)} expressions ({n_multi} multi-target, '
                  f'{n_none} no-target)' + (f'; skipped {skipped_lang} non-ASCII sentence(s) '
                                            "(language='en')" if skipped_lang else ''),
                  logger='current')
        return data_list
