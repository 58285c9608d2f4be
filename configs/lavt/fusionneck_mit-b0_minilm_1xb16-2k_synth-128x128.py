# Late language fusion over a plain MMSeg backbone: SegFormer's MiT-B0 (channels 32, 64, 160,
# 256); LanguageFusionNeck applies LAVT's PWAM and language gate to each of its four maps, then
# the LAVT head decodes them. Same data, text encoder and schedule as the demo LAVT; only the
# backbone, the neck and the head's in_channels change. For ImageNet weights add
# init_cfg=dict(type='Pretrained', checkpoint=<mmseg's converted mit_b0.pth>) to the backbone.
_base_ = './lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py'
feat_channels = [32, 64, 160, 256]
model = dict(
    backbone=dict(
        _delete_=True,
        type='MixVisionTransformer',
        in_channels=3,
        embed_dims=32,
        num_stages=4,
        num_layers=[2, 2, 2, 2],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1),
    neck=dict(type='LanguageFusionNeck', in_channels=feat_channels, text_dim=384),
    decode_head=dict(in_channels=feat_channels))
