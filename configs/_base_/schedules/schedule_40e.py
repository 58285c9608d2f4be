# LAVT's recipe: AdamW (lr 5e-5, wd 1e-2; no decay for the backbone's norms, absolute position
# embedding and relative position bias tables), poly decay (power 0.9) per iteration, 40 epochs,
# validation every epoch, best checkpoint by oIoU.
# The fast path (docs/en/benchmark.md): the training forward under bfloat16 autocast (CPU and
# GPUs since Ampere; parameters, gradients and AdamW states stay float32) and the fused AdamW
# kernel. The float32 path: --cfg-options optim_wrapper.dtype=float32.
optim_wrapper = dict(
    type='AutocastOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(type='AdamW', lr=5e-5, betas=(0.9, 0.999), weight_decay=0.01, fused=True),
    paramwise_cfg=dict(
        custom_keys={
            # substring match, as mmseg's Swin configs: every parameter whose name contains
            # 'norm' (the Swin/PWAM layer norms; BERT's 'LayerNorm' and the decoder's 'bn' are
            # not matched, as in the reference)
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
        }))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=40, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=40, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=1,
                    save_best='oIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
