# LAVT (Yang et al., CVPR 2022, https://arxiv.org/abs/2112.02244): Swin-B (window 12) with PWAM and
# the language gate after every stage, bert-base-uncased (20 tokens), SimpleDecoding head with
# 2-class logits, weighted CE [0.9, 1.1].
norm_cfg = dict(type='SyncBN', requires_grad=True)
# the official train.py converts every BatchNorm to SyncBatchNorm (distributed runs only)
sync_bn = 'torch'
# Checkpoint selection (docs/en/metric.md): 'clean' selects the best checkpoint on val and
# tests once; 'official' selects on the split the official script uses (LAVT: val).
# `tools/train.py CONFIG --selection official` or --cfg-options selection.protocol=official
selection = dict(protocol='clean', official_split='val')
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(480, 480))
# converted ImageNet-22K Swin-B window-12 384 weights, see configs/lavt/README.md
checkpoint_file = 'pretrain/swin_base_patch4_window12_384_22k.pth'
model = dict(
    type='RRSISEncoderDecoder',
    data_preprocessor=data_preprocessor,
    # fused attention kernels (same values up to float rounding, same parameters); 'eager'
    # runs the reference codes' matrix products (docs/en/benchmark.md)
    attn_impl='sdpa',
    text_encoder=dict(
        type='HFTextEncoder',
        name_or_path='bert-base-uncased',  # or a local directory holding the HF files
        max_tokens=20,
        pretrained=True,
        attn_implementation='sdpa',
        trainable_layers=(0, 10),  # the reference optimises BERT layers 0-9 only
        # LAVT's BERT is a separate BertModel never put in train mode: no dropout anywhere
        dropout='none'),
    backbone=dict(
        type='LAVTSwinTransformer',
        pretrain_img_size=384,
        embed_dims=128,
        patch_size=4,
        window_size=12,
        mlp_ratio=4,
        depths=[2, 2, 18, 2],
        num_heads=[4, 8, 16, 32],
        strides=(4, 2, 2, 2),
        out_indices=(0, 1, 2, 3),
        qkv_bias=True,
        qk_scale=None,
        patch_norm=True,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.3,
        use_abs_pos_embed=False,
        act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN', requires_grad=True),
        text_dim=768,
        pwam_num_heads=1,
        fusion_stages=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(
        type='LAVTHead',
        in_channels=[128, 256, 512, 1024],
        in_index=[0, 1, 2, 3],
        channels=512,
        num_classes=2,
        norm_cfg=norm_cfg,
        align_corners=True,
        init_mode='pytorch',  # SimpleDecoding's PyTorch-default convs and classifier
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, class_weight=[0.9, 1.1],
            loss_weight=1.0)),
    train_cfg=dict(),
    # eval_at_input_res: the paper protocol (metrics at the 480x480 network input)
    test_cfg=dict(mode='whole', eval_at_input_res=True))
# the official total batch (GPUs x images per GPU); MMEngine scales the lr with the total batch
# only if enabled (`--cfg-options auto_scale_lr.enable=True`)
auto_scale_lr = dict(enable=False, base_batch_size=32)
