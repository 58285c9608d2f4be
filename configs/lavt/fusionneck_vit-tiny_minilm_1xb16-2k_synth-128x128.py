# Late language fusion over MMSeg's plain VisionTransformer, a small one for CPU runs (patch 8,
# 4 layers of width 64, not DeiT-Ti). A ViT gives maps of one resolution (1/8 here): all four
# layers are taken, LanguageFusionNeck fuses the text into each, and the LAVT head stacks them
# without upsampling (it resizes only maps of different sizes); the logits are resized to the
# input as usual.
_base_ = './lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py'
feat_channels = [64, 64, 64, 64]
model = dict(
    backbone=dict(
        _delete_=True,
        type='VisionTransformer',
        img_size=(128, 128),
        patch_size=8,
        in_channels=3,
        embed_dims=64,
        num_layers=4,
        num_heads=2,
        mlp_ratio=4,
        out_indices=(0, 1, 2, 3),
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        with_cls_token=True,
        final_norm=True,
        norm_cfg=dict(type='LN', eps=1e-6),
        act_cfg=dict(type='GELU'),
        interpolate_mode='bicubic'),
    neck=dict(type='LanguageFusionNeck', in_channels=feat_channels, text_dim=384),
    decode_head=dict(in_channels=feat_channels))
