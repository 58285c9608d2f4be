# LAVT's recipe: AdamW (lr 5e-5, wd 1e-2; no decay for the backbone's norms, absolute position
# embedding and relative position bias tables), poly decay (power 0.9) per iteration as the
# official LambdaLR((1 - it / (N * E)) ** 0.9) (ExactPolyLR; MMEngine's PolyLR runs one step
# ahead), 40 epochs,
# validation every epoch, best checkpoint by oIoU.
# Precision: float32, as every official training script (LAVT, RMSIN, FIANet, rrsis). The fast
# path (docs/en/benchmark.md: bfloat16 autocast in the training forward, parameters, gradients
# and AdamW states in float32, and the fused AdamW kernel) is a deliberate deviation the user
# asks for: `tools/train.py CONFIG --amp`, or
# --cfg-options optim_wrapper.type=AutocastOptimWrapper optim_wrapper.dtype=bfloat16 \
#     optim_wrapper.optimizer.fused=True
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
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
    dict(type='ExactPolyLR', power=0.9, eta_min=0.0, begin=0, end=40, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=40, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=1,
                    save_best='oIoU', rule='greater'),
    # stop (or skip the step: action='skip') on a NaN / Inf loss (docs/en/train_test.md)
    nonfinite_loss=dict(type='NonFiniteLossHook', action='error'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
