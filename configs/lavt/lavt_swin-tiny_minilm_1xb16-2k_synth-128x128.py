# The demo model (`make demo`): a small LAVT trained from scratch on the synthetic set on a CPU.
_base_ = [
    '../_base_/models/lavt_swin-tiny_minilm.py', '../_base_/datasets/synth.py',
    '../_base_/default_runtime.py'
]
train_dataloader = dict(batch_size=16, num_workers=2)
optim_wrapper = dict(
    # bfloat16 autocast in the training forward, also on the CPU (about 1.3x faster with AMX /
    # AVX512-BF16); parameters and optimizer states stay float32
    type='AutocastOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'text_encoder': dict(lr_mult=0.1),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
    }))
max_iters = 2000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=100, by_epoch=False),
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=100, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
log_processor = dict(by_epoch=False)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=1,
                    save_best='oIoU', rule='greater'),
    # stop (or skip the step: action='skip') on a NaN / Inf loss (docs/en/train_test.md)
    nonfinite_loss=dict(type='NonFiniteLossHook', action='error'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
