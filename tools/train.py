# Copyright (c) mmrrsis contributors. All rights reserved.
"""Train a segmentor (MMSeg's tools/train.py with mmrrsis registered).

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp]
        [--selection {clean,official}] [--cfg-options k=v ...]
"""
import argparse
import logging
import os
import os.path as osp

# Checkpoints (resume, load_from, the tested checkpoint) load with torch's weights_only
# unpickler and mmrrsis' plain-data allowlist (mmrrsis.utils.checkpoint): a checkpoint that
# would run code is refused with a message. --trust-checkpoint is the explicit opt-in.
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
        '--amp',
        action='store_true',
        default=False,
        help='the fast path: bfloat16 autocast in the training forward and the fused '
        'optimizer (float16 with loss scaling on GPUs without bfloat16); the paper configs '
        'train in float32 as the official scripts do')
    parser.add_argument(
        '--selection',
        choices=['clean', 'official'],
        default=None,
        help="checkpoint selection: 'clean' selects on val (every config's default), "
        "'official' on the split the model's official script uses (test for FIANet and "
        'LGCE); overrides the config\'s selection.protocol')
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

    from mmrrsis.utils.training import (apply_selection_protocol, check_resume,
                                        enable_fast_path, stopped_message)
    if args.amp:
        enable_fast_path(cfg)
    apply_selection_protocol(cfg, args.selection)

    cfg.resume = args.resume
    check_resume(cfg)

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
        print_log(stopped_message(runner, e), logger='current', level=logging.ERROR)
        raise
    teardown_distributed()


if __name__ == '__main__':
    main()
