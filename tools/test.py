# Copyright (c) mmrrsis contributors. All rights reserved.
"""Test a segmentor (MMSeg's tools/test.py with mmrrsis registered).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR] [--show-dir DIR]
"""
import argparse
import os
import os.path as osp

# Checkpoints (resume, load_from, the tested checkpoint) load with torch's weights_only
# unpickler and mmrrsis' plain-data allowlist (mmrrsis.utils.checkpoint): a checkpoint that
# would run code is refused with a message. --trust-checkpoint is the explicit opt-in.
from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a referring segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--allow-mismatch',
        action='store_true',
        help='evaluate a checkpoint that does not give every tensor of the model (the '
        'missing ones keep their initialisation); by default such a checkpoint is refused')
    parser.add_argument(
        '--work-dir',
        help='if specified, the evaluation metric results will be dumped into the directory '
        'as json')
    parser.add_argument(
        '--out',
        type=str,
        help='the directory to save the output prediction for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir', help='directory where painted images are saved (in '
        'SHOW_DIR/vis_data/vis_image; a relative path is relative to the current directory, '
        'as in mmseg). Every default_hooks.visualization.interval-th sample is drawn')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
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
    parser.add_argument('--tta', action='store_true', help='Test time augmentation')
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


def trigger_visualization_hook(cfg, args):
    default_hooks = cfg.default_hooks
    if 'visualization' in default_hooks:
        visualization_hook = default_hooks['visualization']
        visualization_hook['draw'] = True
        if args.show:
            visualization_hook['show'] = True
            visualization_hook['wait_time'] = args.wait_time
        if args.show_dir:
            visualizer = cfg.visualizer
            visualizer['save_dir'] = args.show_dir
    else:
        raise RuntimeError('VisualizationHook must be included in default_hooks. '
                           'Refer to the usage "visualization=dict(type=\'VisualizationHook\')"')
    return cfg


def main():
    args = parse_args()

    import mmrrsis  # noqa: F401
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

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)

    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    if args.out is not None:  # masks as PNG + per-sample JSONL (RRSISMetric.output_dir)
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator,
                                                      (list, tuple)) else [cfg.test_evaluator]
        rrsis = [e for e in evaluators if e.get('type') == 'RRSISMetric']
        if not rrsis:
            raise SystemExit('--out needs an RRSISMetric in test_evaluator (it saves the '
                             'predicted masks and the per-sample results)')
        for e in rrsis:
            e['output_dir'] = osp.abspath(args.out)

    runner = Runner.from_cfg(cfg)
    if not args.allow_mismatch:
        # MMEngine loads with strict=False and only warns: another model's checkpoint would be
        # evaluated with random weights where it does not fit
        from mmrrsis.utils.checkpoint import checkpoint_mismatch, load_checkpoint_file
        try:
            state = load_checkpoint_file(args.checkpoint, map_location='cpu',
                                         trust=args.trust_checkpoint)
        except (FileNotFoundError, RuntimeError) as e:
            raise SystemExit(str(e)) from None
        except Exception as e:  # not a checkpoint at all (an image, a text file, truncated)
            raise SystemExit(f'Cannot read the checkpoint {args.checkpoint}: '
                             f'{type(e).__name__}: {e}') from None
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        why = checkpoint_mismatch(model, state, args.checkpoint)
        del state
        if why:
            raise SystemExit(why + ' (--allow-mismatch evaluates it anyway)')
    try:
        runner.test()
    except Exception as e:
        if is_refusal(e):
            raise SystemExit(refused_checkpoint_message(args.checkpoint, e)) from None
        raise
    teardown_distributed()


if __name__ == '__main__':
    main()
