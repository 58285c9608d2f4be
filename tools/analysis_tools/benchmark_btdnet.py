# Copyright (c) mmrrsis contributors. All rights reserved.
"""Parameter count and training-step time of BTDNet vs LAVT, measured in the same run.

Full size (default): the paper-like configs (Swin-B window 12, bert-base-uncased, 480x480,
batch 2), built from the configs' architecture without pretrained weights (the BERT
architecture comes from mmrrsis' offline table; no files or network needed). ``--small``
swaps in a tiny Swin and a tiny offline BERT at 64x64 to check that the script works.
Models, batches and the training step are those of ``benchmark.py`` (the configs' fast path,
or the float32 eager baseline with ``--float32``); ``benchmark.py CONFIG`` compares the two
paths of one config.

Example::

    python tools/analysis_tools/benchmark_btdnet.py --device cuda --repeat 10
    python tools/analysis_tools/benchmark_btdnet.py --small --repeat 2
    python tools/analysis_tools/benchmark_btdnet.py --params-only
"""
import argparse
import os.path as osp
import sys
import tempfile

import torch
from mmengine.config import Config

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import benchmark as bm  # noqa: E402  (tools/analysis_tools/benchmark.py)

ROOT = bm.ROOT
CONFIGS = dict(
    LAVT='configs/lavt/lavt_swin-b-w12_bert-base_4xb8-40e_rrsisd-480x480.py',
    BTDNet='configs/btdnet/btdnet_swin-b-w12_bert-base_4xb2-40e_rrsisd-480x480.py')


def parse_args():
    parser = argparse.ArgumentParser(description='Benchmark BTDNet against LAVT')
    parser.add_argument('--small', action='store_true',
                        help='tiny models at 64x64 (a functional check, not a benchmark)')
    parser.add_argument('--size', type=int, default=480, help='input side (full size)')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--repeat', type=int, default=5, help='timed training steps')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--params-only', action='store_true',
                        help='count parameters only (no forward; no tokenizer needed)')
    parser.add_argument('--float32', action='store_true',
                        help="time the float32 eager path instead of the configs' fast path")
    parser.add_argument('--tokenizer', default=None,
                        help='tokenizer directory for the full-size text encoder (default: '
                        'the MiniLM package directory, the same uncased vocabulary, when '
                        'bert-base-uncased is not in the Hugging Face cache)')
    return parser.parse_args()


def _shrink(cfg, text_dir):
    """Tiny variant of a full-size model config (Swin embed 16, text 32-d)."""
    cfg.text_encoder = dict(type='HFTextEncoder', name_or_path=text_dir, max_tokens=12,
                            pretrained=False)
    cfg.backbone.update(pretrain_img_size=64, embed_dims=16, depths=[1, 1, 1, 1],
                        num_heads=[1, 2, 2, 4], window_size=4, text_dim=32)
    head = cfg.decode_head
    head.update(in_channels=[16, 32, 64, 128], channels=16)
    if head.type == 'TBTDHead':
        head.update(text_dim=32, query_heads=2)
    if cfg.get('loss_dmols'):
        cfg.loss_dmols.update(num_heads=2)
    cfg.data_preprocessor.size = (64, 64)


def build(name, args, text_dir):
    """The model of ``CONFIGS[name]`` (random weights) and the benchmark settings."""
    cfg = Config.fromfile(osp.join(ROOT, CONFIGS[name]))
    if args.small:
        _shrink(cfg.model, text_dir)
    bargs = bm.parse_args([CONFIGS[name], '--img-size', str(64 if args.small else args.size)]
                          + (['--tokenizer', args.tokenizer] if args.tokenizer else []))
    base_cfg, fast_cfg, size = bm.prepare(cfg, bargs)
    settings = bm.fast_settings(cfg, 'train', args.device)
    model = bm.build_model(base_cfg if args.float32 else fast_cfg, args.device)
    return model.train(), settings, size


def step_time(model, settings, size, args):
    """Seconds per forward + backward + AdamW step (the config's fast path unless
    ``--float32``), measured with benchmark.py's step."""
    import time
    data = bm.make_batch(model, size, args.batch, args.device)
    step = bm.make_train_step(model, data, settings, args.device, not args.float32)
    for _ in range(args.warmup):
        step()
    bm._sync(args.device)
    start = time.perf_counter()
    for _ in range(args.repeat):
        step()
    bm._sync(args.device)
    return (time.perf_counter() - start) / args.repeat


def count(module):
    return sum(p.numel() for p in module.parameters()) if module is not None else 0


def main():
    args = parse_args()
    import mmrrsis  # noqa: F401
    from mmrrsis.utils import register_all_modules
    register_all_modules()
    size = 64 if args.small else args.size
    with tempfile.TemporaryDirectory() as tmp:
        text_dir = None
        if args.small:
            from mmrrsis.testing import make_tiny_bert
            text_dir = make_tiny_bert(osp.join(tmp, 'bert'))
        rows = {}
        for name in CONFIGS:
            model, settings, size = build(name, args, text_dir)
            torch.manual_seed(0)
            seconds = float('nan') if args.params_only else step_time(
                model, settings, size, args)
            rows[name] = dict(
                total=count(model), text=count(model.text_encoder),
                train_only=count(getattr(model, 'loss_dmols', None)), seconds=seconds)
            del model
            if args.device.startswith('cuda'):
                torch.cuda.empty_cache()
    timing = 'parameters only' if args.params_only else \
        f"{args.repeat} timed forward+backward+AdamW steps, " + (
            'float32 eager' if args.float32 else "the configs' fast path")
    print(f'input {size}x{size}, batch {args.batch}, device {args.device}, {timing}')
    print(f"{'model':<8}{'params (M)':>12}{'w/o text (M)':>14}{'train-only (M)':>16}"
          f"{'s / step':>10}")
    for name, r in rows.items():
        print(f"{name:<8}{r['total'] / 1e6:>12.2f}{(r['total'] - r['text']) / 1e6:>14.2f}"
              f"{r['train_only'] / 1e6:>16.2f}{r['seconds']:>10.3f}")
    a, b = rows['BTDNet'], rows['LAVT']
    print(f"ratio BTDNet / LAVT: params {a['total'] / b['total']:.3f}, inference params "
          f"{(a['total'] - a['train_only']) / b['total']:.3f}, step time "
          f"{a['seconds'] / b['seconds']:.3f}")


if __name__ == '__main__':
    main()
