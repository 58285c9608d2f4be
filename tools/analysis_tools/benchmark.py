# Copyright (c) mmrrsis contributors. All rights reserved.
"""Time a config's fast path against the float32 eager baseline of the same model.

The model is built offline from the config (random weights; ``init_cfg``/pretrained loading
stripped; the tokenizer from ``--tokenizer`` or, for ``bert-base-uncased``-vocabulary encoders
that are not on disk, the MiniLM package's identical vocabulary). Two copies with the same
weights run alternately in one process:

* **baseline**: float32, no autocast, eager attention everywhere (``attn_impl='eager'``, the
  text encoder's ``attn_implementation='eager'``), no checkpointing, plain AdamW, no compile;
* **fast**: whatever the config enables: the optimizer wrapper's autocast dtype
  (``AutocastOptimWrapper`` / ``AmpOptimWrapper``) for ``train``, ``test_cfg.autocast`` for
  ``infer``, ``attn_impl='sdpa'``, fused AdamW (``optimizer.fused``), ``with_cp`` /
  ``gradient_checkpointing``, ``ChannelsLastHook``, ``compile``.

It prints median and min seconds per step, the ratio fast / baseline, the peak memory of each
path (each measured in a fresh process: CUDA ``max_memory_allocated`` or the CPU peak resident
set size), and the agreement of the two paths (``train``: cosine similarity of the gradients of
one step from the same weights and batch; ``infer``: max abs / relative logit difference and
argmax agreement). The last line printed is one JSON object.

Examples::

    python tools/analysis_tools/benchmark.py \\
        configs/lavt/lavt_swin-b-w12_bert-base_4xb8-40e_rrsisd-480x480.py --mode train --amp
    python tools/analysis_tools/benchmark.py CONFIG --mode infer --batch-size 2 \\
        --cfg-options model.test_cfg.autocast=bfloat16
    python tools/analysis_tools/benchmark.py CONFIG --device cuda --repeat 20 --warmup 5
    python tools/analysis_tools/benchmark.py CONFIG --mode data --data-root data/refer \
        --workers 2 --batch-size 8 --repeat 20

``--mode data`` times the config's training dataloader instead (decode, RLE, resize, packing
in ``--workers`` processes; the first batch, which starts the workers, is not timed) and
reports samples per second, to set against the model's consumption (batch / step time).
"""
import argparse
import copy
import json
import os
import os.path as osp
import random
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict, DictAction

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TEXTS = ['the storage tank on the left of the road', 'a white vehicle near the building',
         'the second small grey car to the left of the largest building',
         'a pond in the middle']


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Fast path vs float32 eager baseline of a config')
    p.add_argument('config')
    p.add_argument('--mode', choices=['train', 'infer', 'data'], default='train',
                   help="'data': throughput of the config's training dataloader")
    p.add_argument('--workers', type=int, default=2, help="dataloader workers ('data' mode)")
    p.add_argument('--data-root', default=None, help="data_root of the training set ('data')")
    p.add_argument('--batch-size', type=int, default=1)
    p.add_argument('--repeat', type=int, default=3, help='timed steps of each path')
    p.add_argument('--warmup', type=int, default=1, help='untimed steps of each path first')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--img-size', type=int, default=None,
                   help="input side; default: the config's data_preprocessor size (or 480)")
    p.add_argument('--tokenizer', default=None,
                   help='local tokenizer directory for encoders whose files are not on disk')
    p.add_argument('--perturb', type=float, default=0.0,
                   help='add N(0, std) noise to every weight after init (non-constant '
                   'predictions for the argmax agreement of randomly initialised models)')
    p.add_argument('--no-memory', action='store_true',
                   help='skip the peak-memory processes')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--amp', action='store_true',
                   help="the training fast path of tools/train.py --amp (bfloat16 autocast, "
                   'fused AdamW); the paper configs train in float32 without it')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, as in tools/train.py')
    p.add_argument('--memory-probe', choices=['baseline', 'fast'], default=None,
                   help=argparse.SUPPRESS)  # internal: one path in a fresh process
    return p.parse_args(argv)


# ---------------------------------------------------------------------------- configs
def _replace_sync_bn(cfg) -> None:
    if isinstance(cfg, dict):
        if cfg.get('type') == 'SyncBN':
            cfg['type'] = 'BN'
        for v in cfg.values():
            _replace_sync_bn(v)
    elif isinstance(cfg, (list, tuple)):
        for c in cfg:
            _replace_sync_bn(c)


def _set_everywhere(cfg, key: str, value) -> None:
    """Set ``key`` to ``value`` in every (nested) dict that has it."""
    if isinstance(cfg, dict):
        if key in cfg:
            cfg[key] = value
        for k, v in cfg.items():
            if k != key:
                _set_everywhere(v, key, value)
    elif isinstance(cfg, (list, tuple)):
        for c in cfg:
            _set_everywhere(c, key, value)


def _text_encoders(model_cfg: dict) -> List[dict]:
    found = []

    def walk(c):
        if isinstance(c, dict):
            if 'TextEncoder' in str(c.get('type', '')):
                found.append(c)
            for v in c.values():
                walk(v)
        elif isinstance(c, (list, tuple)):
            for v in c:
                walk(v)

    walk(model_cfg)
    return found


def baseline_model_cfg(model_cfg: dict) -> dict:
    """The float32 eager variant of a model config: every fast switch off."""
    cfg = copy.deepcopy(model_cfg)
    cfg['attn_impl'] = 'eager'
    _set_everywhere(cfg, 'with_cp', False)
    for text in _text_encoders(cfg):
        text['attn_implementation'] = 'eager'
        text['gradient_checkpointing'] = False
    if cfg.get('test_cfg'):
        cfg['test_cfg'].pop('autocast', None)
    return cfg


def fast_settings(cfg: Config, mode: str, device: str) -> dict:
    """What the config's fast path enables (besides the model's own switches)."""
    wrapper = cfg.get('optim_wrapper', {}) or {}
    optimizer = dict(wrapper.get('optimizer', {}) or {})
    dtype = None
    if mode == 'train':
        if wrapper.get('type') == 'AutocastOptimWrapper':
            dtype = wrapper.get('dtype', 'bfloat16')
        elif wrapper.get('type') == 'AmpOptimWrapper':
            dtype = wrapper.get('dtype') or 'float16'
    else:
        dtype = (cfg.model.get('test_cfg') or {}).get('autocast')
    hooks = [h.get('type') for h in cfg.get('custom_hooks', []) or []]
    return dict(
        dtype=dtype,
        fused=bool(optimizer.get('fused', False)),
        lr=float(optimizer.get('lr', 1e-5)),
        channels_last='ChannelsLastHook' in hooks,
        compile=cfg.get('compile', False))


def _tokenizer_fallback(text_cfg: dict, tokenizer: Optional[str]) -> None:
    from mmrrsis.models.text_encoders.hf_text_encoder import (KNOWN_HF_CONFIGS,
                                                               _resolve_path, minilm_path)
    name = text_cfg.get('name_or_path', 'bert-base-uncased')
    if tokenizer:
        text_cfg['tokenizer_path'] = tokenizer
        return
    if osp.isdir(_resolve_path(str(text_cfg.get('tokenizer_path') or name))):
        return
    try:
        from transformers.utils import cached_file
        cached_file(str(text_cfg.get('tokenizer_path') or name), 'vocab.txt',
                    local_files_only=True)
        return
    except Exception:
        pass
    if KNOWN_HF_CONFIGS.get(name, {}).get('vocab_size') == 30522:
        text_cfg['tokenizer_path'] = minilm_path()  # the same bert-base-uncased vocabulary
        return
    raise FileNotFoundError(f'no local tokenizer for {name!r}: pass --tokenizer DIR')


def prepare(cfg: Config, args) -> Tuple[dict, dict, int]:
    """Model configs of both paths, and the input size."""
    from mmrrsis.apis.inferencer import RRSISInferencer
    model_cfg = copy.deepcopy(cfg.model)
    RRSISInferencer._strip_pretrained(model_cfg)  # random weights: read no files
    _replace_sync_bn(model_cfg)
    for text in _text_encoders(model_cfg):
        text['pretrained'] = False
        text['cache_size'] = 0
        _tokenizer_fallback(text, args.tokenizer)
    size = args.img_size
    pre = model_cfg.get('data_preprocessor') or {}
    if size is None:
        size = (pre.get('size') or (480, 480))[0]
    if pre:
        pre['size'] = (size, size)
    return baseline_model_cfg(model_cfg), model_cfg, size


# ---------------------------------------------------------------------------- models
def build_model(model_cfg: dict, device: str, state: Optional[dict] = None,
                perturb: float = 0.0, seed: int = 0) -> nn.Module:
    from mmseg.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(ConfigDict(model_cfg))
    if state is None:
        model.init_weights()
        if perturb:
            gen = torch.Generator().manual_seed(seed + 1)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(torch.randn(p.shape, generator=gen) * perturb)
    else:
        model.load_state_dict(state)
    return model.to(device)


def make_batch(model: nn.Module, size: int, batch_size: int, device: str,
               seed: int = 0, train: bool = True) -> dict:
    """A preprocessed batch: random images, fixed expressions, a square target."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(batch_size):
        inputs.append((torch.rand(3, size, size, generator=gen) * 255).to(device))
        s = SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                        pad_shape=(size, size), text=TEXTS[i % len(TEXTS)],
                                        category='vehicle'))
        gt = torch.zeros(1, size, size, dtype=torch.long)
        gt[:, size // 4:size // 2, size // 3:size // 2 + size // 6] = 1
        s.gt_sem_seg = PixelData(data=gt.to(device))
        samples.append(s)
    return model.data_preprocessor(dict(inputs=inputs, data_samples=samples), train)


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _autocast(device: str, dtype: Optional[str]):
    if not dtype:
        return torch.autocast(device_type=torch.device(device).type, enabled=False)
    return torch.autocast(device_type=torch.device(device).type, dtype=getattr(torch, dtype))


def make_train_step(model: nn.Module, data: dict, settings: dict, device: str,
                    fast: bool) -> Callable[[], float]:
    """A closure running forward + backward + AdamW; returns the loss."""
    params = [p for p in model.parameters() if p.requires_grad]
    kwargs = dict(lr=settings['lr'] if settings['lr'] > 0 else 1e-5, weight_decay=0.01)
    if fast and settings['fused']:
        kwargs['fused'] = True
    optim = torch.optim.AdamW(params, **kwargs)
    dtype = settings['dtype'] if fast else None
    forward = model.forward
    if fast and settings['compile']:
        opts = settings['compile'] if isinstance(settings['compile'], dict) else {}
        forward = torch.compile(model.forward, **opts)

    def step() -> float:
        optim.zero_grad(set_to_none=True)
        with _autocast(device, dtype):
            losses = forward(**data, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        loss.backward()
        optim.step()
        # free the gradients now: the other path's step must not run beside them
        optim.zero_grad(set_to_none=True)
        return float(loss.detach())

    return step


def make_infer_step(model: nn.Module, data: dict, settings: dict,
                    fast: bool) -> Callable[[], torch.Tensor]:
    """A closure running the whole-image inference; returns float32 logits."""
    metas = [s.metainfo for s in data['data_samples']]
    infer = model.inference
    if fast and settings['compile']:
        opts = settings['compile'] if isinstance(settings['compile'], dict) else {}
        infer = torch.compile(model.inference, **opts)

    def step() -> torch.Tensor:
        with torch.no_grad():
            return infer(data['inputs'], metas).float()

    return step


def _sync(device: str) -> None:
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


def gradients(model: nn.Module, data: dict, device: str, dtype: Optional[str],
              seed: int) -> torch.Tensor:
    """Flattened gradients of one forward/backward (no optimizer step)."""
    model.zero_grad(set_to_none=True)
    _seed_all(seed)
    with _autocast(device, dtype):
        losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    grads = [p.grad.flatten().float() if p.grad is not None else torch.zeros(p.numel())
             for p in model.parameters() if p.requires_grad]
    model.zero_grad(set_to_none=True)
    return torch.cat([g.to(device) for g in grads])


def _channels_last(model: nn.Module, data: dict) -> None:
    model.to(memory_format=torch.channels_last)
    data['inputs'] = data['inputs'].contiguous(memory_format=torch.channels_last)


# ---------------------------------------------------------------------------- memory
def _reset_peak(device: str) -> None:
    """Start a new peak: CUDA's allocator statistics, or the kernel's resident-set peak."""
    if torch.device(device).type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        return
    try:
        with open('/proc/self/clear_refs', 'w') as f:  # '5' resets VmHWM (Linux >= 4.0)
            f.write('5')
    except OSError:
        pass


def _peak_gb(device: str) -> float:
    """Peak memory since :func:`_reset_peak`: CUDA allocated bytes, or the CPU peak resident
    set (``VmHWM``, which includes the weights and the libraries; ``ru_maxrss`` without
    /proc)."""
    if torch.device(device).type == 'cuda':
        return torch.cuda.max_memory_allocated() / 2**30
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 2**20  # kB
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def memory_probe(args) -> float:
    """Peak memory of one path (warm-up + 2 steps) in this (fresh) process."""
    cfg = load_config(args)
    base_cfg, fast_cfg, size = prepare(cfg, args)
    settings = fast_settings(cfg, args.mode, args.device)
    fast = args.memory_probe == 'fast'
    model = build_model(fast_cfg if fast else base_cfg, args.device, seed=args.seed)
    data = make_batch(model, size, args.batch_size, args.device, args.seed, args.mode == 'train')
    if fast and settings['channels_last']:
        _channels_last(model, data)
    if args.mode == 'train':
        model.train()
        step = make_train_step(model, data, settings, args.device, fast)
    else:
        model.eval()
        step = make_infer_step(model, data, settings, fast)
    _reset_peak(args.device)
    for _ in range(2):
        step()
    _sync(args.device)
    return _peak_gb(args.device)


def measure_memory(argv: List[str], path: str) -> float:
    cmd = [sys.executable, osp.abspath(__file__)] + argv + ['--memory-probe', path]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, HF_HUB_OFFLINE='1'))
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith('{')]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f'memory probe ({path}) failed:\n{out.stderr[-3000:]}')
    return float(json.loads(lines[-1])['peak_gb'])


# ---------------------------------------------------------------------------- main
def load_config(args) -> Config:
    import mmrrsis  # noqa: F401
    from mmrrsis.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if getattr(args, 'amp', False):
        from mmrrsis.utils.training import enable_fast_path
        enable_fast_path(cfg)
    return cfg


def _stats(times: List[float]) -> dict:
    return dict(median=statistics.median(times), min=min(times))


def run(args, argv: List[str]) -> dict:
    cfg = load_config(args)
    base_cfg, fast_cfg, size = prepare(cfg, args)
    settings = fast_settings(cfg, args.mode, args.device)
    device = args.device
    baseline = build_model(base_cfg, device, perturb=args.perturb, seed=args.seed)
    fast = build_model(fast_cfg, device, state=baseline.state_dict(), seed=args.seed)
    train = args.mode == 'train'
    data = make_batch(baseline, size, args.batch_size, device, args.seed, train)
    fast_data = dict(data)
    if settings['channels_last']:
        _channels_last(fast, fast_data)
    result = dict(config=osp.relpath(osp.abspath(args.config), ROOT), mode=args.mode,
                  batch_size=args.batch_size, img_size=size, device=device,
                  threads=torch.get_num_threads(), fast_path=settings | dict(
                      attn_impl=fast_cfg.get('attn_impl', 'eager'),
                      text_attn=[t.get('attn_implementation') for t in
                                 _text_encoders(fast_cfg)],
                      with_cp=_any_true(fast_cfg, 'with_cp'),
                      text_checkpointing=any(
                          t.get('gradient_checkpointing') for t in _text_encoders(fast_cfg))))
    if train:
        baseline.train()
        fast.train()
        g_base = gradients(baseline, data, device, None, args.seed)
        g_fast = gradients(fast, fast_data, device, settings['dtype'], args.seed)
        result['grad_cosine'] = float(torch.nn.functional.cosine_similarity(
            g_base.double(), g_fast.double(), dim=0))  # float64: 1e8 terms
        del g_base, g_fast
        steps = dict(baseline=make_train_step(baseline, data, settings, device, False),
                     fast=make_train_step(fast, fast_data, settings, device, True))
    else:
        baseline.eval()
        fast.eval()
        steps = dict(baseline=make_infer_step(baseline, data, settings, False),
                     fast=make_infer_step(fast, fast_data, settings, True))
        out_fast = steps['fast']()  # test_cfg.autocast applies inside model.inference
        out_base = steps['baseline']()
        diff = (out_fast - out_base).abs()
        result['logit_max_abs_diff'] = float(diff.max())
        result['logit_max_rel_diff'] = float(diff.max() / out_base.abs().max().clamp(min=1e-12))
        result['argmax_agreement'] = float(
            (out_fast.argmax(1) == out_base.argmax(1)).float().mean())
        result['fg_fraction'] = float((out_base.argmax(1) == 1).float().mean())
    times: Dict[str, List[float]] = dict(baseline=[], fast=[])
    total = args.warmup + args.repeat
    for i in range(total):
        took = {}
        for name in ('baseline', 'fast'):  # alternate: both see the same machine state
            _seed_all(args.seed + i)
            _sync(device)
            start = time.perf_counter()
            steps[name]()
            _sync(device)
            took[name] = time.perf_counter() - start
            if i >= args.warmup:
                times[name].append(took[name])
        print(f"step {i + 1}/{total}: baseline {took['baseline']:.3f} s, fast "
              f"{took['fast']:.3f} s{' (warm-up)' if i < args.warmup else ''}", flush=True)
    b, f = _stats(times['baseline']), _stats(times['fast'])
    result.update(baseline_s=b['median'], fast_s=f['median'], baseline_min_s=b['min'],
                  fast_min_s=f['min'], ratio=f['median'] / b['median'])
    del baseline, fast, steps
    if args.no_memory:
        result.update(baseline_peak_gb=None, fast_peak_gb=None)
    else:
        result['baseline_peak_gb'] = measure_memory(argv, 'baseline')
        result['fast_peak_gb'] = measure_memory(argv, 'fast')
    return result


def _any_true(cfg, key: str) -> bool:
    if isinstance(cfg, dict):
        return bool(cfg.get(key)) or any(_any_true(v, key) for v in cfg.values())
    if isinstance(cfg, (list, tuple)):
        return any(_any_true(v, key) for v in cfg)
    return False


def report(r: dict) -> None:
    print(f"{r['config']} | {r['mode']} | batch {r['batch_size']} | {r['img_size']}x"
          f"{r['img_size']} | {r['device']} ({r['threads']} threads)")
    print(f"fast path: {r['fast_path']}")
    print(f"{'path':<10}{'median s':>10}{'min s':>10}{'peak GB':>10}")
    for name in ('baseline', 'fast'):
        peak = r[f'{name}_peak_gb']
        print(f"{name:<10}{r[f'{name}_s']:>10.3f}{r[f'{name}_min_s']:>10.3f}"
              f"{'n/a' if peak is None else f'{peak:.2f}':>10}")
    line = f"ratio fast/baseline: {r['ratio']:.3f}"
    if r['baseline_peak_gb']:
        line += f", memory {r['fast_peak_gb'] / r['baseline_peak_gb']:.3f}"
    if 'grad_cosine' in r:
        line += f", gradient cosine {r['grad_cosine']:.5f}"
    else:
        line += (f", logits max abs diff {r['logit_max_abs_diff']:.3g} (rel "
                 f"{r['logit_max_rel_diff']:.3g}), argmax agreement "
                 f"{100 * r['argmax_agreement']:.3f}%")
    print(line)


def run_data(args) -> dict:
    """Samples per second of the config's training dataloader."""
    from mmengine.runner import Runner
    cfg = load_config(args)
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    if args.data_root:
        loader_cfg.dataset.data_root = args.data_root
    loader_cfg.update(batch_size=args.batch_size, num_workers=args.workers,
                      persistent_workers=args.workers > 0)
    loader = Runner.build_dataloader(loader_cfg, seed=args.seed)
    it = iter(loader)
    next(it)  # starts the workers
    batches = min(args.repeat, len(loader) - 1)
    if batches < 1:
        raise ValueError(f'the training set gives {len(loader)} batches of {args.batch_size}; '
                         'need at least 2')
    start = time.perf_counter()
    samples = 0
    for _ in range(batches):
        samples += len(next(it)['inputs'])
    seconds = time.perf_counter() - start
    return dict(config=osp.relpath(osp.abspath(args.config), ROOT), mode='data',
                batch_size=args.batch_size, workers=args.workers, batches=batches,
                samples=samples, samples_per_s=samples / seconds,
                ms_per_sample=1000 * seconds / samples,
                dataset=type(loader.dataset).__name__)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    if args.mode == 'data':
        r = run_data(args)
        print(f"{r['config']} | training dataloader ({r['dataset']}) | {r['workers']} workers "
              f"| batch {r['batch_size']}: {r['samples_per_s']:.1f} samples/s "
              f"({r['ms_per_sample']:.1f} ms per sample over {r['samples']} samples)")
        print(json.dumps(r))
        return 0
    if args.memory_probe:
        print(json.dumps(dict(peak_gb=memory_probe(args))))
        return 0
    result = run(args, argv)
    report(result)
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
