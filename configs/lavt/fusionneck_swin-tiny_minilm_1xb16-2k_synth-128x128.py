# Late language fusion over MMSeg's plain SwinTransformer, the same small Swin (embed 32,
# window 4) as the demo LAVT: language enters after the backbone through LanguageFusionNeck
# (PWAM and language gate per map) instead of between the stages, which makes this config the
# late-fusion counterpart of lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py.
_base_ = './lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py'
feat_channels = [32, 64, 128, 256]
model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',
        pretrain_img_size=128,
        embed_dims=32,
        patch_size=4,
        window_size=4,
        mlp_ratio=4,
        depths=[2, 2, 2, 2],
        num_heads=[1, 2, 4, 8],
        strides=(4, 2, 2, 2),
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1),
    neck=dict(type='LanguageFusionNeck', in_channels=feat_channels, text_dim=384),
    decode_head=dict(in_channels=feat_channels))
