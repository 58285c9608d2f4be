# Copyright (c) mmrrsis contributors. All rights reserved.
"""Config switches applied by ``tools/train.py`` (and ``mim train``): the fast path and the
checkpoint-selection protocol (docs/en/config.md, docs/en/metric.md)."""
import copy
import logging

import torch
from mmengine.config import Config
from mmengine.logging import print_log

#: ``selection.protocol`` values: ``'clean'`` selects the checkpoint on the val split and tests
#: once; ``'official'`` selects on the split the model's official script uses
#: (``selection.official_split``: ``'test'`` for FIANet and LGCE, ``'val'`` for LAVT, RMSIN).
SELECTION_PROTOCOLS = ('clean', 'official')

#: Optimizers that have a fused kernel in PyTorch (``fused=True``).
_FUSED_OPTIMIZERS = ('AdamW', 'Adam', 'SGD', 'Adagrad')


def enable_fast_path(cfg: Config) -> None:
    """``--amp``: the measured fast path of ``docs/en/benchmark.md``, in place.

    bfloat16 autocast in the training forward (:class:`AutocastOptimWrapper`: CPUs and GPUs
    with bfloat16; parameters, gradients and optimizer states stay float32; on hardware without
    native bfloat16 it falls back to float32 and logs it) and the fused optimizer kernel. On a
    GPU without bfloat16 (before Ampere), MMEngine's ``AmpOptimWrapper`` (float16 with dynamic
    loss scaling), as MMSeg's ``--amp``.
    """
    wrapper = cfg.optim_wrapper
    kind = wrapper.get('type', 'OptimWrapper')
    if kind == 'AmpOptimWrapper' or (kind == 'AutocastOptimWrapper'
                                     and wrapper.get('dtype', 'bfloat16') != 'float32'):
        print_log('Mixed-precision training is already enabled in your config.',
                  logger='current', level=logging.WARNING)
        return
    if kind not in ('OptimWrapper', 'AutocastOptimWrapper'):
        raise ValueError('`--amp` needs optim_wrapper.type OptimWrapper or '
                         f'AutocastOptimWrapper, got {kind!r}.')
    if torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
        wrapper.type = 'AmpOptimWrapper'
        wrapper.loss_scale = 'dynamic'
        wrapper.pop('dtype', None)
        return
    wrapper.type = 'AutocastOptimWrapper'
    wrapper.dtype = 'bfloat16'
    optimizer = wrapper.get('optimizer', {})
    if optimizer.get('type') in _FUSED_OPTIMIZERS:
        optimizer['fused'] = True
    print_log('--amp: bfloat16 autocast in the training forward and the fused '
              f"{optimizer.get('type', 'optimizer')} kernel (docs/en/benchmark.md).",
              logger='current')


def apply_selection_protocol(cfg: Config, protocol: str = None) -> str:
    """Point the validation loop at the split the selection protocol names, in place.

    ``cfg.selection`` is ``dict(protocol='clean' | 'official', official_split='val' | 'test')``
    (``configs/_base_/default_runtime.py``; every model config sets ``official_split``).
    With ``'official'`` and ``official_split='test'``, the checkpoint is selected on the test
    split, as the FIANet and LGCE scripts do: ``val_dataloader`` and ``val_evaluator`` become
    copies of the test ones. Such numbers are not held-out numbers (docs/en/metric.md).

    Args:
        cfg (Config): The training config.
        protocol (str, optional): Overrides ``cfg.selection.protocol`` (``--selection``).

    Returns:
        str: The split the checkpoint is selected on.
    """
    selection = dict(protocol='clean', official_split='val')
    selection.update(cfg.get('selection', None) or {})
    if protocol is not None:
        selection['protocol'] = protocol
    if selection['protocol'] not in SELECTION_PROTOCOLS:
        raise ValueError(f'selection.protocol must be one of {SELECTION_PROTOCOLS}, got '
                         f"{selection['protocol']!r}")
    if selection['official_split'] not in ('val', 'test'):
        raise ValueError("selection.official_split must be 'val' or 'test', got "
                         f"{selection['official_split']!r}")
    cfg.selection = selection
    split = 'val' if selection['protocol'] == 'clean' else selection['official_split']
    if split == 'test':
        if cfg.get('test_dataloader') is None:
            raise ValueError("selection protocol 'official' selects on the test split, but "
                             'the config has no test_dataloader')
        cfg.val_dataloader = copy.deepcopy(cfg.test_dataloader)
        cfg.val_evaluator = copy.deepcopy(cfg.get('test_evaluator', cfg.get('val_evaluator')))
    print_log(f"Checkpoint selection: protocol {selection['protocol']!r}, best checkpoint "
              f'chosen on the {split} split'
              + (' (the official script\'s choice; not a held-out number)'
                 if split == 'test' else ''), logger='current')
    return split


def _latest_intact_checkpoint(work_dir: str):
    """The newest ``epoch_N.pth`` / ``iter_N.pth`` in ``work_dir`` (by N), or None."""
    import glob
    import os.path as osp
    import re
    found = []
    for path in glob.glob(osp.join(glob.escape(work_dir), '*.pth')):
        m = re.fullmatch(r'(epoch|iter)_(\d+)\.pth', osp.basename(path))
        if m:
            found.append((int(m.group(2)), path))
    return max(found)[1] if found else None


def check_resume(cfg: Config) -> None:
    """Make ``--resume`` fail early and clearly, in place.

    - no checkpoint in the work dir: an error that says so (MMEngine would silently start
      from scratch);
    - ``last_checkpoint`` names a file that is gone (an interrupted save of older MMEngine
      hooks): resume from the newest intact ``epoch_N`` / ``iter_N`` checkpoint, logged;
    - the checkpoint was written by a run with another model config: an error naming the
      differing keys (resuming would load mismatching weights or fail deep inside).
    """
    import os.path as osp
    if not cfg.get('resume') or cfg.get('load_from'):
        return
    work_dir = cfg.work_dir
    last_file = osp.join(work_dir, 'last_checkpoint')
    latest = _latest_intact_checkpoint(work_dir) if osp.isdir(work_dir) else None
    target = None
    if osp.isfile(last_file):
        with open(last_file) as f:
            target = f.read().strip()
        if not osp.isfile(target):
            if latest is None:
                raise SystemExit(f'--resume: {last_file} names {target}, which does not exist, '
                                 f'and {work_dir} holds no other epoch_N/iter_N checkpoint; '
                                 'start without --resume.')
            print_log(f'--resume: {last_file} names {target}, which does not exist; resuming '
                      f'from the newest intact checkpoint {latest}', logger='current',
                      level=logging.WARNING)
            target = latest
    elif latest is not None:
        target = latest
    if target is None:
        raise SystemExit(f'--resume: {work_dir} holds no checkpoint to resume from (no '
                         'last_checkpoint file, no epoch_N/iter_N.pth). Start without --resume, '
                         'or give --work-dir of the run to continue.')
    cfg.load_from = target  # MMEngine resumes from load_from when resume is True
    _check_same_model(cfg, target)


def _check_same_model(cfg: Config, checkpoint: str) -> None:
    """Refuse to resume a checkpoint whose run used another model config."""
    try:
        ckpt = torch.load(checkpoint, map_location='cpu', weights_only=True, mmap=True)
        old_text = (ckpt.get('meta') or {}).get('cfg') if isinstance(ckpt, dict) else None
    except Exception:  # unreadable or refused: the runner reports it with the file named
        return
    if not old_text:
        return
    try:
        old = Config.fromstring(old_text, '.py')
    except Exception:
        return
    old_model, new_model = old.get('model', {}), cfg.get('model', {})
    if old_model == new_model:
        return
    keys = sorted(k for k in set(old_model) | set(new_model)
                  if old_model.get(k) != new_model.get(k))
    raise SystemExit(f'--resume: {checkpoint} was written by a run with another model config '
                     f'(differs in model.{", model.".join(keys)}). Resume with the config of '
                     'that run, start a new work dir, or start from its weights with '
                     f'--cfg-options load_from={checkpoint} (without --resume).')


def stopped_message(runner, error: BaseException) -> str:
    """What a failed run kept: the iteration reached and the checkpoint to resume from."""
    import os.path as osp
    work_dir = runner.work_dir
    last = None
    last_file = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(last_file):
        with open(last_file) as f:
            last = f.read().strip()
        if not osp.isfile(last):
            last = None
    last = last or _latest_intact_checkpoint(work_dir)
    kept = (f'the last checkpoint is {last}; continue with `tools/train.py CONFIG --resume '
            f'--work-dir {work_dir}`' if last else 'no checkpoint was written yet')
    return (f'Training stopped at iteration {runner.iter} (epoch {runner.epoch}) by '
            f'{type(error).__name__}: {error}\nWork kept: {kept}.')
