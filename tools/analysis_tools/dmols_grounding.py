# Copyright (c) mmrrsis contributors. All rights reserved.
"""Is BTDNet's D-MOLS reconstruction grounded in the image?

Evaluates the reconstruction loss of a trained BTDNet on a split twice, with the same erasures:
with the visual memory as computed, and with the memory rolled by one sample across the batch
(each expression then reads another image). If both numbers are equal, the reconstruction
does not use the image, and the loss teaches the visual features nothing. Two references
say whether the target itself is informative: the loss of the best constant predictor of the
same targets (``loss_rec_constant``; near 0 for the feature target means the full-text words
are nearly one vector, and R can match them without reading anything), and the spread of
the encoded and BSC-updated full-text words around their mean direction (measured for any
BTDNet, also without D-MOLS, to see whether the words collapse without the reconstruction).

    python tools/analysis_tools/dmols_grounding.py CONFIG CHECKPOINT [--split test]
        [--batch-size 16] [--p-erase 1.0] [--max-batches N] [--cfg-options k=v ...]

The last line printed is one JSON object: ``loss_rec``, ``loss_rec_shuffled`` (both without
``loss_weight``), their ``ratio`` (shuffled / as computed), ``loss_rec_constant``,
``word_spread_encoded``, ``word_spread_updated``, ``batches`` and ``samples`` (only the
spreads, batches and samples for a config without D-MOLS).
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


#: word_spread_updated below this fraction of word_spread_encoded counts as collapsed words
COLLAPSE_FRACTION = 0.2


def word_spread(feats: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean ``1 - cos(w, u)`` of the real words ``w`` to their mean direction ``u``.

    Args:
        feats (Tensor): (B, L, C) words.
        mask (Tensor): (B, L), 1 for real tokens.

    Returns:
        float: 0 when every word of the batch is the same vector up to scale.
    """
    words = torch.nn.functional.normalize(feats[mask.bool()].float(), dim=-1)
    direction = torch.nn.functional.normalize(words.sum(0), dim=0)
    return float((1 - words @ direction).mean())


@torch.no_grad()
def text_spreads(model, data: dict) -> Dict[str, float]:
    """``word_spread`` of the encoded and of the updated (after the last BSC) full-text words
    of one preprocessed batch (any BTDNet, with or without D-MOLS)."""
    from mmrrsis.models.segmentors.rrsis_encoder_decoder import texts_from_metas
    encoded = model.encode_text(texts_from_metas([s.metainfo for s in data['data_samples']]))
    _, updated = model.extract_feat_and_text(data['inputs'], encoded)
    return dict(word_spread_encoded=word_spread(*encoded),
                word_spread_updated=word_spread(*updated))


@torch.no_grad()
def grounding_losses(model, batches: Iterable[dict], seed: int = 0,
                     progress=None, spreads: bool = True) -> Dict[str, float]:
    """Mean unweighted reconstruction loss with the memory as computed and shuffled.

    Args:
        model (BTDNetEncoderDecoder): In eval mode. Without ``loss_dmols`` only the word
            spreads are measured (``spreads`` must be True).
        batches (Iterable[dict]): Data-loader batches (``inputs``, ``data_samples`` with the
            ground truth, since the segmentation losses run too).
        seed (int): Batch ``i`` draws its erasure with seed ``seed + i``.
        progress (callable, optional): Called once per batch.
        spreads (bool): Also measure :func:`word_spread` of the encoded and the updated
            full-text words (a collapse of the updated words makes the ``'updated'`` feature
            target trivial). Defaults to True.

    Returns:
        dict: ``loss_rec``, ``loss_rec_shuffled``, ``ratio`` (shuffled / as computed),
        ``loss_rec_constant`` (best constant predictor of the same targets), ``batches``,
        ``samples`` and, with ``spreads``, ``word_spread_encoded`` / ``word_spread_updated``.
    """
    dmols = getattr(model, 'with_dmols', False)
    if not dmols and not spreads:
        raise ValueError('the model has no D-MOLS loss (model.loss_dmols is None)')
    sums: Dict[str, float] = {}
    n_batches = n_samples = 0
    for i, batch in enumerate(batches):
        data = model.data_preprocessor(batch, True)
        if len(data['data_samples']) < 2:
            continue  # nothing to shuffle with
        values = {}
        if dmols:
            torch.manual_seed(seed + i)
            values.update(model.dmols_diagnostics(data['inputs'], data['data_samples']))
        if spreads:
            values.update(text_spreads(model, data))
        for k, v in values.items():
            sums[k] = sums.get(k, 0.0) + v
        n_batches += 1
        n_samples += len(data['data_samples'])
        if progress is not None:
            progress()
    if not n_batches:
        raise ValueError('no batch of at least 2 samples to evaluate')
    out = {k: v / n_batches for k, v in sums.items()}
    if dmols:
        out['ratio'] = (out['loss_rec_shuffled'] / out['loss_rec']
                        if out['loss_rec'] else float('nan'))
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
    dmols = getattr(model, 'with_dmols', False)
    if not dmols and not hasattr(model, 'extract_feat_and_text'):
        print(f'error: {args.config} builds neither a D-MOLS loss (model.loss_dmols) nor '
              'BTDNet words to measure', file=sys.stderr)
        return 1
    if dmols:
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
    if dmols:
        print(f"loss_rec as computed {result['loss_rec']:.4f}, with the memory shuffled "
              f"across the batch {result['loss_rec_shuffled']:.4f} (ratio "
              f"{result['ratio']:.3f}), best constant predictor "
              f"{result['loss_rec_constant']:.4f}; {result['samples']} samples")
    else:
        print(f'{args.config} has no D-MOLS loss: word spreads only')
    print(f"word spread (mean 1 - cos to the batch's mean word direction): encoded "
          f"{result['word_spread_encoded']:.4f}, updated by BSC "
          f"{result['word_spread_updated']:.4f}")
    if result['word_spread_updated'] < COLLAPSE_FRACTION * result['word_spread_encoded']:
        print('warning: the words after BSC have collapsed (nearly one vector for every word: '
              'the later fusion stages and the head lose the expression, and the "updated" '
              'feature target is trivial); see "word collapse" in configs/btdnet/README.md '
              '(BSC text_update_norm)')
    print(json.dumps(dict(config=args.config, checkpoint=args.checkpoint, split=args.split,
                          **result)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
