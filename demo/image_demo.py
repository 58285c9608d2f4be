# Copyright (c) mmrrsis contributors. All rights reserved.
"""Segment the object an expression refers to and save an overlay.

    python demo/image_demo.py IMG "EXPRESSION" CONFIG CHECKPOINT --out overlay.png
"""
import argparse
import os
import os.path as osp


def parse_args():
    parser = argparse.ArgumentParser(description='mmrrsis image demo')
    parser.add_argument('img', help='image file')
    parser.add_argument('text', help='referring expression')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file (plain data only unless '
                        '--trust-checkpoint)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load the checkpoint with the full unpickler (it can run code '
                        'from the file: only for files you trust)')
    parser.add_argument('--out', default='overlay.png', help='overlay PNG to write')
    parser.add_argument('--mask-out', default=None, help='also write the mask (0/255 PNG)')
    parser.add_argument('--device', default='cpu', help='device, e.g. cpu or cuda:0')
    return parser.parse_args()


def main():
    args = parse_args()
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    if not osp.isfile(args.img):
        raise SystemExit(f'image not found: {args.img}')
    from PIL import Image

    from mmrrsis.apis import RRSISInferencer
    try:
        inferencer = RRSISInferencer(args.config, args.checkpoint, device=args.device,
                                     trust_checkpoint=args.trust_checkpoint)
    except RuntimeError as e:
        if 'refused to load' in str(e):
            raise SystemExit(str(e)) from None
        raise
    out = inferencer(args.img, args.text, return_vis=True)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    Image.fromarray(out['visualization'][0]).save(args.out)
    mask = out['masks'][0]
    if args.mask_out:
        Image.fromarray(mask * 255).save(args.mask_out)
    print(f'{args.text!r}: {int(mask.sum())} foreground pixels of {mask.size}; '
          f'overlay written to {args.out}')


if __name__ == '__main__':
    main()
