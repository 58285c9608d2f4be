# Copyright (c) mmrrsis contributors. All rights reserved.
import os.path as osp
import codecs
import io
from typing import List, Tuple

from mmengine.fileio import get_local_path
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

#: METAINFO shared by every RRSIS data set: binary target masks.
RRSIS_METAINFO = dict(classes=('background', 'target'), palette=[[0, 0, 0], [255, 255, 255]])


def read_phrase_lines(path: str) -> Tuple[List[Tuple[int, str]], bool]:
    """The lines of a RefSegRS phrase file, decoded as UTF-8.

    A UTF-8 byte-order mark at the start is dropped (else the first id would be
    ``'\\ufeff0'``); line breaks (LF or CRLF) are removed.

    Returns:
        tuple: ``[(line_number, line), ...]`` (1-based) and whether a BOM was dropped.

    Raises:
        ValueError: a line that is not valid UTF-8, naming the file, the line and the byte.
    """
    with open(path, 'rb') as f:
        raw = f.read()
    bom = raw.startswith(codecs.BOM_UTF8)
    if bom:
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as e:
        lineno = raw.count(b'\n', 0, e.start) + 1
        column = e.start - (raw.rfind(b'\n', 0, e.start) + 1) + 1
        raise ValueError(f'{path}: line {lineno} is not valid UTF-8 (byte '
                         f'0x{raw[e.start]:02x} at column {column}); re-save the file as '
                         'UTF-8') from None
    # universal newlines, as the text-mode reading of the reference loaders
    out = [(lineno, line.rstrip('\r\n'))
           for lineno, line in enumerate(io.StringIO(text, newline=None), 1)]
    return out, bom


@DATASETS.register_module()
class RefSegRSDataset(BaseSegDataset):
    """RefSegRS (Yuan et al., "RRSIS", TGRS 2024, https://arxiv.org/abs/2306.08625).

    Layout of ``data_root``::

        images/<id>.tif                  RGB aerial tile
        masks/<id>.tif                   single-channel mask, 0/255 (pixel > 50 is foreground)
        output_phrase_{train,val,test}.txt   one sample per line: ``<id> <expression>``

    Each line is split once at its first space; the id is used verbatim as the file stem and as
    both ``ref_id`` and ``sent_id`` (a ``str``). ``text`` is the rest of the line without its line
    break, exactly as the file gives it (the reference loaders keep the trailing ``'\\n'``, which
    BERT tokenisation ignores). A line with an id but no expression gives ``text=''`` and a
    logged warning; blank lines are skipped; a UTF-8 byte-order mark is dropped (logged); a
    repeated id is kept with a logged warning naming it; a line that is not UTF-8 is an error
    naming the file and the line. ``category`` is ``None``: the files have none
    (the metric derives one from the text, see ``RRSISMetric``).

    Args:
        data_root (str): The RefSegRS root.
        split (str): ``'train'``, ``'val'`` or ``'test'`` (any name with a phrase file works).
        img_dir (str): Image folder. Defaults to ``'images'``.
        mask_dir (str): Mask folder. Defaults to ``'masks'``.
        phrase_file (str): Phrase file template. Defaults to ``'output_phrase_{}.txt'``.
        img_suffix (str): Defaults to ``'.tif'``.
        seg_map_suffix (str): Defaults to ``'.tif'``.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset` (``pipeline``, ``test_mode``,
            ``lazy_init``, ``indices``, ...).
    """

    METAINFO = RRSIS_METAINFO

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 img_dir: str = 'images',
                 mask_dir: str = 'masks',
                 phrase_file: str = 'output_phrase_{}.txt',
                 img_suffix: str = '.tif',
                 seg_map_suffix: str = '.tif',
                 **kwargs) -> None:
        self.split = split
        self.phrase_file = phrase_file
        super().__init__(
            data_root=data_root,
            ann_file=phrase_file.format(split),
            data_prefix=dict(img_path=img_dir, seg_map_path=mask_dir),
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the phrase file: one data_info per line (see the class docstring)."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'{type(self).__name__} phrase file for split {self.split!r} not found: '
                f'{self.ann_file} (data_root={self.data_root!r} must hold '
                f"{osp.basename(self.data_prefix.get('img_path', ''))}/, "
                f"{osp.basename(self.data_prefix.get('seg_map_path', ''))}/ and "
                f'{self.phrase_file.format("{train,val,test}")})')
        img_dir = self.data_prefix.get('img_path', '')
        mask_dir = self.data_prefix.get('seg_map_path', '')
        data_list, empty, blank, seen, dups = [], [], 0, set(), []
        with get_local_path(self.ann_file) as path:
            lines, bom = read_phrase_lines(path)
        if bom:
            print_log(f'{self.ann_file}: dropped a UTF-8 byte-order mark at the start',
                      logger='current', level=30)
        for lineno, line in lines:
            if not line.strip():
                blank += 1
                continue
            sample_id, _, text = line.partition(' ')
            if not text.strip():
                empty.append(f'line {lineno} (id {sample_id})')
            if sample_id in seen:
                dups.append(f'{sample_id} (line {lineno})')
            seen.add(sample_id)
            data_list.append(
                dict(
                    img_path=osp.join(img_dir, sample_id + self.img_suffix),
                    seg_map_path=osp.join(mask_dir, sample_id + self.seg_map_suffix),
                    text=text,
                    ref_id=sample_id,
                    sent_id=sample_id,
                    category=None,
                    label_map=self.label_map,
                    reduce_zero_label=self.reduce_zero_label,
                    seg_fields=[]))
        if dups:
            print_log(
                f'{self.ann_file}: {len(dups)} duplicate id(s), kept (they share one image and '
                f"mask): {', '.join(dups[:10])}", logger='current', level=30)
        if blank:
            print_log(f'{self.ann_file}: skipped {blank} blank line(s)', logger='current',
                      level=30)
        if empty:
            print_log(
                f'{self.ann_file}: {len(empty)} sample(s) with an empty expression, kept with '
                f"text='' (first: {', '.join(empty[:5])})", logger='current', level=30)
        if not data_list:
            raise ValueError(
                f'{type(self).__name__}: split {self.split!r} is empty: the phrase file '
                f'{self.ann_file} has no sample lines' +
                (f' ({blank} blank line(s))' if blank else ' (the file is empty)'))
        return data_list
