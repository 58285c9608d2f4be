# Copyright (c) mmrrsis contributors. All rights reserved.
"""The main job (`make demo`): train a small referring segmentor on the synthetic set on a CPU.

1. generate the synthetic set in the RefSegRS layout (``data/synth``) unless it exists, and
   check it with ``check_dataset``;
2. train the small model of
   ``configs/lavt/fusionneck-tbtd_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py``
   (ResNet-18 trained from scratch, PWAM language fusion, T-BTD head, frozen pretrained
   MiniLM text encoder) with the stock MMEngine runner;
3. evaluate the best checkpoint (by val oIoU) on the held-out test split, then again with the
   expressions shuffled across the test samples (the language ablation);
4. print the metric table, write ``work_dirs/demo/metrics.json`` and overlays in
   ``work_dirs/demo/vis/``.
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
import time

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
# Checkpoints load with torch's weights_only unpickler and mmrrsis' plain-data allowlist
# (mmrrsis.utils.checkpoint); --trust-checkpoint opts in to the full unpickler.
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = osp.join(REPO, 'configs', 'lavt',
                          'fusionneck-tbtd_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py')
METRIC_KEYS = ('oIoU', 'mIoU', 'Pr@0.5', 'Pr@0.6', 'Pr@0.7', 'Pr@0.8', 'Pr@0.9')


def parse_args():
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default=DEFAULT_CONFIG)
    p.add_argument('--data-root', default=osp.join(REPO, 'data', 'synth'))
    p.add_argument('--work-dir', default=osp.join(REPO, 'work_dirs', 'demo'))
    p.add_argument('--split-scenes', type=int, nargs=3, default=(2600, 150, 250),
                   metavar=('TRAIN', 'VAL', 'TEST'), help='synthetic scenes per split')
    p.add_argument('--iters', type=int, default=None,
                   help='training iterations (default: the config\'s schedule; a shorter '
                   'one cuts the schedule, validating at the middle and the end)')
    p.add_argument('--num-vis', type=int, default=16, help='overlays to write (0: none)')
    p.add_argument('--seed', type=int, default=0, help='training seed')
    p.add_argument('--data-seed', type=int, default=0, help='seed of the synthetic set')
    p.add_argument('--difficulty', choices=('standard', 'hard'), default='standard',
                   help="synthetic set: 'standard' (the demo) or 'hard' (synth-hard)")
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                   help='override config settings (key=value), as in tools/train.py')
    p.add_argument('--trust-checkpoint', action='store_true',
                   help='load --checkpoint with the full unpickler (only files you trust)')
    p.add_argument('--checkpoint', default=None,
                   help='skip training and evaluate this checkpoint (one you trust)')
    return p.parse_args()


def prepare_data(args) -> None:
    from mmrrsis.datasets.checks import check_dataset, format_report
    from mmrrsis.datasets.synthetic import generate_synthetic_dataset, load_synthetic_meta
    t = time.time()
    kwargs = dict(split_ratio=args.split_scenes, seed=args.data_seed,
                  difficulty=args.difficulty, progress=True)
    try:  # reuses a set made with the same parameters
        summary = generate_synthetic_dataset(args.data_root, **kwargs)
    except FileExistsError as e:
        existing = load_synthetic_meta(args.data_root)
        if existing is None:  # not a complete synthetic set: never delete it
            raise SystemExit(f'[demo] {e}')
        print(f'[demo] {args.data_root} holds a synthetic set made with other parameters '
              f"({existing.get('params')}); regenerating it with {kwargs}")
        summary = generate_synthetic_dataset(args.data_root, overwrite=True, **kwargs)
    print(f"[demo] {'using the existing' if summary.get('reused') else 'generated the'} "
          f'synthetic set in {args.data_root}')
    print(f"[demo] {summary.get('num_samples')} samples {summary.get('split_samples')} "
          f'({time.time() - t:.1f} s)')
    report = check_dataset('refsegrs', args.data_root, splits=('train', 'val', 'test'))
    if report.get('num_errors', 0):
        print(format_report(report))
        raise SystemExit(f'[demo] the data set in {args.data_root} has errors (see above)')


def build_cfg(args):
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = args.data_root
    cfg.work_dir = args.work_dir
    if args.iters is not None:
        cfg.train_cfg.max_iters = args.iters
        cfg.train_cfg.val_interval = max(1, args.iters // 2)
        cfg.default_hooks.checkpoint.interval = cfg.train_cfg.val_interval
        for sched in cfg.param_scheduler:
            if sched.get('end', 0) > args.iters:
                sched['end'] = args.iters
    cfg.randomness = dict(seed=args.seed)
    cfg.default_hooks.logger.interval = 100
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if h.get('type') != 'TrainProgressBarHook']
    cfg.custom_hooks.append(dict(type='TrainProgressBarHook', desc='demo training'))
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook', draw=False)
    return cfg


def run_test(cfg, checkpoint, shuffled: bool):
    from mmengine.runner import Runner
    cfg = copy.deepcopy(cfg)
    cfg.load_from = checkpoint
    cfg.train_dataloader = None
    cfg.train_cfg = None
    cfg.optim_wrapper = None
    cfg.param_scheduler = None
    cfg.val_dataloader = None
    cfg.val_cfg = None
    cfg.val_evaluator = None
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h.get('type') != 'TrainProgressBarHook']
    cfg.work_dir = osp.join(cfg.work_dir, 'test_shuffled' if shuffled else 'test')
    if shuffled:
        cfg.test_dataloader.dataset = dict(type='ShuffledTextDataset',
                                           dataset=cfg.test_dataloader.dataset, seed=0)
    runner = Runner.from_cfg(cfg)
    return runner.test()


def write_overlays(cfg, checkpoint, out_dir, num):
    import numpy as np
    from mmengine.registry import DATASETS

    from mmrrsis.apis import RRSISInferencer
    from mmrrsis.visualization import draw_referring_overlay
    os.makedirs(out_dir, exist_ok=True)
    ds_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    ds_cfg.pipeline = [dict(type='LoadRRSISImageFromFile'),
                       dict(type='LoadRRSISAnnotations')]
    dataset = DATASETS.build(ds_cfg)
    inferencer = RRSISInferencer(cfg, checkpoint)
    step = max(1, len(dataset) // num)
    for k, idx in enumerate(range(0, len(dataset), step)[:num]):
        item = dataset[idx]
        pred = inferencer(item['img_path'], item['text'])['masks'][0]
        gt = item['gt_seg_map']
        union = np.logical_or(gt, pred).sum()
        iou = np.logical_and(gt, pred).sum() / union if union else 0.0
        img_rgb = np.ascontiguousarray(item['img'][..., ::-1])
        vis = draw_referring_overlay(img_rgb, gt, item['text'], pred_mask=pred,
                                     extra_text=f'IoU {iou:.2f}  (fill: prediction, '
                                     'outline: ground truth)')
        from PIL import Image
        Image.fromarray(vis).save(osp.join(out_dir, f'{k:02d}_{item["ref_id"]}.png'))


def main():
    args = parse_args()
    t0 = time.time()
    from mmengine.runner import Runner

    import mmrrsis  # noqa: F401
    if args.trust_checkpoint:
        from mmrrsis.utils.checkpoint import trust_checkpoints
        trust_checkpoints()
    prepare_data(args)
    cfg = build_cfg(args)
    print(f'[demo] training {osp.relpath(args.config, REPO)} for {cfg.train_cfg.max_iters} '
          f'iterations on the CPU (work dir {args.work_dir})')
    t_train = time.time()
    if args.checkpoint is None:
        runner = Runner.from_cfg(copy.deepcopy(cfg))
        runner.train()
        # this run's best checkpoint (by val oIoU), not a file left by an earlier run
        best = runner.message_hub.get_info('best_ckpt')
        last = osp.join(args.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
        checkpoint = best if best and osp.isfile(best) else last
    else:
        checkpoint = args.checkpoint
    train_s = time.time() - t_train
    print(f'[demo] evaluating {osp.basename(checkpoint)} on the test split')
    metrics = run_test(cfg, checkpoint, shuffled=False)
    print('[demo] evaluating again with the expressions shuffled across test samples')
    shuffled = run_test(cfg, checkpoint, shuffled=True)

    result = {k: round(float(metrics[k]), 2) for k in METRIC_KEYS}
    for k in METRIC_KEYS:
        result[f'{k}_shuffled_text'] = round(float(shuffled[k]), 2)
    result.update(checkpoint=osp.basename(checkpoint), train_iters=cfg.train_cfg.max_iters,
                  train_seconds=round(train_s, 1), total_seconds=round(time.time() - t0, 1),
                  num_test_samples=int(metrics.get('num_samples', 0)))
    metrics_file = osp.join(args.work_dir, 'metrics.json')
    with open(metrics_file, 'w') as f:  # written before the overlays: nothing is lost
        json.dump(result, f, indent=2)
    if args.num_vis > 0:
        write_overlays(cfg, checkpoint, osp.join(args.work_dir, 'vis'), args.num_vis)
        result['total_seconds'] = round(time.time() - t0, 1)
        with open(metrics_file, 'w') as f:
            json.dump(result, f, indent=2)

    width = max(len(k) for k in METRIC_KEYS)
    print('\n[demo] test split of the synthetic set (paper protocol, percent)')
    print(f"{'metric':<{width}}  {'expressions':>11}  {'shuffled':>9}")
    for k in METRIC_KEYS:
        print(f'{k:<{width}}  {result[k]:>11.2f}  {result[k + "_shuffled_text"]:>9.2f}')
    print(f"\n[demo] metrics: {metrics_file}; overlays: "
          f"{osp.join(args.work_dir, 'vis')}; total {result['total_seconds']:.0f} s")
    if result['oIoU'] - result['oIoU_shuffled_text'] < 20:
        print('[demo] WARNING: the model barely uses the language (oIoU with shuffled '
              'expressions is within 20 points)', file=sys.stderr)


if __name__ == '__main__':
    main()
