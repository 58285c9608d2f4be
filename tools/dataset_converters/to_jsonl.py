# Copyright (c) mmrrsis contributors. All rights reserved.
"""Export any mmrrsis data set kind to RSRefSeg2's jsonl schema (one file per split).

    python tools/dataset_converters/to_jsonl.py KIND DATA_ROOT OUT_DIR [--splits train val test]
        [--name NAME]

Writes ``OUT_DIR/<name>_<split>.jsonl`` (name defaults to KIND): one line per sample with
``split``, ``image_id``, ``sent``, ``file_name`` (relative to the data set's image root, which
is printed), ``segmentation`` (the target mask at the original size, union of every referred
object, as a COCO compressed RLE dict), ``ref_id``, ``sent_id`` and, where the data set has
them, ``category_name``, ``ann_id`` and ``no_target``. Read it back with
``JsonlReferDataset(data_root=OUT_DIR, split=..., img_dir=<that image root>)``, or in
RSRefSeg2 / DiCoR with their image root set to the printed folder.
"""
import argparse
import os.path as osp
import sys

from mmrrsis.datasets.jsonl import dataset_records, write_jsonl
from mmrrsis.datasets.kinds import DATASET_KINDS, build_dataset_of_kind


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Export an RRSIS data set to jsonl (RSRefSeg2).')
    p.add_argument('kind', choices=DATASET_KINDS, help='data set format')
    p.add_argument('data_root', help='data root (as given to the dataset class)')
    p.add_argument('out_dir', help='where <name>_<split>.jsonl go')
    p.add_argument('--splits', nargs='+', default=['train', 'val', 'test'])
    p.add_argument('--name', default=None, help='file name prefix (default: KIND)')
    p.add_argument('--no-progress', action='store_true')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    name = args.name or args.kind
    img_root = None
    for split in args.splits:
        try:
            dataset = build_dataset_of_kind(args.kind, args.data_root, split)
        except (FileNotFoundError, ValueError) as e:
            print(f'error: {split}: {e}', file=sys.stderr)
            return 1
        img_root = dataset.data_prefix.get('img_path', '')
        out = osp.join(args.out_dir, f'{name}_{split}.jsonl')
        n = write_jsonl(dataset_records(dataset, split, progress=not args.no_progress), out)
        print(f'{split}: {n} samples -> {out}')
    print(f'image root (file_name is relative to it): {img_root}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
