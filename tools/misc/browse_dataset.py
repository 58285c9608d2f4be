# Copyright (c) mmrrsis contributors. All rights reserved.
"""Write pictures of RRSIS samples (any data set kind): image, translucent mask, expression.

Example::

    python tools/misc/browse_dataset.py refsegrs data/synthetic --split val --out-dir vis --num 20
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np
from PIL import Image

from mmrrsis.datasets.kinds import DATASET_KINDS, build_dataset_of_kind
from mmrrsis.datasets.transforms import LoadRRSISAnnotations
from mmrrsis.visualization import draw_referring_overlay


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Draw samples of an RRSIS data set.')
    parser.add_argument('kind', choices=DATASET_KINDS, help='data set format')
    parser.add_argument('data_root', help='data root (as given to the dataset class)')
    parser.add_argument('--split', default='val')
    parser.add_argument('--out-dir', required=True, help='where the PNGs go')
    parser.add_argument('--num', type=int, default=20, help='number of samples (<= 0: all)')
    parser.add_argument('--start', type=int, default=0, help='index of the first sample')
    parser.add_argument('--min-width', type=int, default=256,
                        help='small images are enlarged to at least this width')
    parser.add_argument('--show', action='store_true', help='also open each picture')
    return parser.parse_args(argv)


def load_sample(info: dict):
    """RGB image (H, W, 3) and {0, 1} mask (H, W) of one data_info, decoded as the loaders do
    (a no-target sample gives an empty mask)."""
    with Image.open(info['img_path']) as im:
        img = np.asarray(im.convert('RGB'))
    info = dict(info)
    if info.get('height') is None:
        info['height'], info['width'] = img.shape[:2]
    mask = LoadRRSISAnnotations()(info)['gt_seg_map']
    return img, mask


def main(argv=None) -> int:
    args = parse_args(argv)
    dataset = build_dataset_of_kind(args.kind, args.data_root, args.split)
    stop = len(dataset) if args.num <= 0 else min(len(dataset), args.start + args.num)
    os.makedirs(args.out_dir, exist_ok=True)
    written = 0
    for idx in range(args.start, stop):
        info = dataset.get_data_info(idx)
        img, mask = load_sample(info)
        if mask.shape != img.shape[:2]:
            print(f'skip {info["img_path"]}: mask {mask.shape} vs image {img.shape[:2]}',
                  file=sys.stderr)
            continue
        canvas = draw_referring_overlay(img, mask, info['text'],
                                        extra_text=f'{args.split} #{idx} id {info["sent_id"]}'
                                        + (f' ({info["category"]})' if info.get('category')
                                           else '')
                                        + (' [no target]' if info.get('no_target') else ''),
                                        min_width=args.min_width)
        out = osp.join(args.out_dir, f'{args.split}_{idx:05d}_{info["sent_id"]}.png')
        Image.fromarray(canvas).save(out)
        written += 1
        if args.show:
            Image.fromarray(canvas).show(title=info['text'])
    print(f'wrote {written} picture(s) of {args.kind} {args.split} to {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
