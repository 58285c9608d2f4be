# Copyright (c) mmrrsis contributors. All rights reserved.
"""Is BTDNet's D-MOLS reconstruction grounded in the image?

Evaluates the reconstruction loss of a trained BTDNet on a split twice, with the same erasures:
with the visual memory as computed, and with the memory rolled by one sample across the batch
(each expression then reads another image). If both numbers are equal, the reconstruction
does not use the image, and the loss teaches the visual features nothing.

    python tools/analysis_tools/dmols_grounding.py CONFIG CHECKPOINT [--split test]
        [--batch-size 16] [--p-erase 1.0] [--max-batches N] [--cfg-options k=v ...]

The last line printed is one JSON object: ``loss_rec``, ``loss_rec_shuffled`` (both without
``loss_weight``), their ``ratio`` (shuffled / as computed), ``batches`` and ``samples``.
"""
import argparse
import json
import os
import sys
from typing import Dict, Iterable

import torch

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description='D-MOLS grounding diagnostic (memory shuffled '
                                'across the batch vs as computed)')
    p.add_argument('config', help='a BTDNet config with loss_dmols')
    p.add_argument('checkpoint', nargs='?', default=None,
                   help='weights to evaluate (omit for the randomly initialised model)')
    p.add_argument('--split', choices=('val', 'test'), default='test')
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--p-erase', type=float, default=1.0,
                   help='erasure probability during the diagnostic (default: every sample)')
    p.add_argument('--max-batches', type=int, default=None)
    p.add_argument('--seed', type=int, default=0, help='seed of the erasure draws')
    p.add_argument('--device', default='cpu')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    p.add_argument('--no-progress', action='store_true')
    return p.parse_args(argv)


@torch.no_grad()
def grounding_losses(model, batches: Iterable[dict], seed: int = 0,
                     progress=None) -> Dict[str, float]:
    """Mean unweighted reconstruction loss with the memory as computed and shuffled.

    Args:
        model (BTDNetEncoderDecoder): In eval mode, with ``loss_dmols``.
        batches (Iterable[dict]): Data-loader batches (``inputs``, ``data_samples`` with the
            ground truth, since the segmentation losses run too).
        seed (int): Both passes of batch ``i`` draw their erasure with seed ``seed + i``.
        progress (callable, optional): Called once per batch.

    Returns:
        dict: ``loss_rec``, ``loss_rec_shuffled``, ``ratio``, ``batches``, ``samples``.
    """
    if not getattr(model, 'with_dmols', False):
        raise ValueError('the model has no D-MOLS loss (model.loss_dmols is None)')
    weight = model.loss_dmols.loss_weight
    sums = dict(loss_rec=0.0, loss_rec_shuffled=0.0)
    n_batches = n_samples = 0
    for i, batch in enumerate(batches):
        data = model.data_preprocessor(batch, True)
        if len(data['data_samples']) < 2:
            continue  # nothing to shuffle with
        for key, shuffle in (('loss_rec', False), ('loss_rec_shuffled', True)):
            torch.manual_seed(seed + i)
            _, loss = model.dmols_forward(data['inputs'], data['data_samples'],
                                          shuffle_memory=shuffle)
            sums[key] += float(loss) / weight if weight else float(loss)
        n_batches += 1
        n_samples += len(data['data_samples'])
        if progress is not None:
            progress()
    if not n_batches:
        raise ValueError('no batch of at least 2 samples to evaluate')
    out = {k: v / n_batches for k, v in sums.items()}
    out['ratio'] = out['loss_rec_shuffled'] / out['loss_rec'] if out['loss_rec'] else float(
        'nan')
    return dict(out, batches=n_batches, samples=n_samples)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, load_checkpoint
    from tqdm import tqdm

    import mmrrsis  # noqa: F401
    from mmseg.registry import MODELS
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint, map_location='cpu', strict=False)
    model.to(args.device).eval()
    if not getattr(model, 'with_dmols', False):
        print(f'error: {args.config} builds no D-MOLS loss (model.loss_dmols)', file=sys.stderr)
        return 1
    model.p_erase = args.p_erase
    loader_cfg = cfg[f'{args.split}_dataloader'].copy()
    loader_cfg.batch_size = args.batch_size
    loader_cfg.sampler = dict(type='DefaultSampler', shuffle=False)
    loader = Runner.build_dataloader(loader_cfg, seed=args.seed)
    total = len(loader) if args.max_batches is None else min(len(loader), args.max_batches)
    batches = (b for i, b in zip(range(total), loader))
    bar = None if args.no_progress else tqdm(total=total, desc='D-MOLS grounding')
    result = grounding_losses(model, batches, args.seed,
                              progress=None if bar is None else lambda: bar.update(1))
    if bar is not None:
        bar.close()
    print(f"loss_rec as computed {result['loss_rec']:.4f}, with the memory shuffled across "
          f"the batch {result['loss_rec_shuffled']:.4f} (ratio {result['ratio']:.3f}; "
          f"{result['samples']} samples)")
    print(json.dumps(dict(config=args.config, checkpoint=args.checkpoint, split=args.split,
                          **result)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
