# Copyright (c) mmrrsis contributors. All rights reserved.
"""Train a segmentor (MMSeg's tools/train.py with mmrrsis registered).

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp] [--cfg-options k=v ...]
"""
import argparse
import logging
import os
import os.path as osp

# Checkpoints (resume, load_from, the tested checkpoint) load with torch's weights_only
# unpickler and mmrrsis' plain-data allowlist (mmrrsis.utils.checkpoint): a checkpoint that
# would run code is refused with a message. --trust-checkpoint is the explicit opt-in.
import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner


def parse_args():
    parser = argparse.ArgumentParser(description='Train a referring segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        action='store_true',
        default=False,
        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument(
        '--amp', action='store_true', default=False, help='enable automatic-mixed-precision')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local_rank, torchrun sets LOCAL_RANK
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load checkpoints with the full unpickler (it can run code from the file: only '
        'for files you trust); by default only plain data loads')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()

    import mmrrsis  # noqa: F401  (registers the components; configs also import it)
    from mmrrsis.utils.checkpoint import (is_refusal, refused_checkpoint_message,
                                          trust_checkpoints)
    if args.trust_checkpoint:
        trust_checkpoints()
    from mmrrsis.utils.dist import setup_cpu_distributed, teardown_distributed

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    setup_cpu_distributed(cfg)

    # work_dir priority: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper == 'AmpOptimWrapper' or (
                optim_wrapper == 'AutocastOptimWrapper'
                and cfg.optim_wrapper.get('dtype', 'bfloat16') != 'float32'):
            print_log('Mixed-precision training is already enabled in your config.',
                      logger='current', level=logging.WARNING)
        elif optim_wrapper == 'AutocastOptimWrapper':
            cfg.optim_wrapper.dtype = 'bfloat16'
        else:
            assert optim_wrapper == 'OptimWrapper', (
                '`--amp` is only supported when the optimizer wrapper type is '
                f'`OptimWrapper` but got {optim_wrapper}.')
            if torch.cuda.is_available():
                cfg.optim_wrapper.type = 'AmpOptimWrapper'
                cfg.optim_wrapper.loss_scale = 'dynamic'
            else:  # MMEngine's AmpOptimWrapper needs a GPU; bfloat16 autocast on the CPU
                cfg.optim_wrapper.type = 'AutocastOptimWrapper'

    cfg.resume = args.resume

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    try:
        runner.train()
    except Exception as e:
        if is_refusal(e):
            source = cfg.get('load_from') or 'the checkpoint to resume from'
            raise SystemExit(refused_checkpoint_message(str(source), e)) from None
        raise
    teardown_distributed()


if __name__ == '__main__':
    main()
