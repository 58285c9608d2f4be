# The LGCE ladder row with the RRSECS port's computation (LGCENeck variant='port'): guide = plain
# mean of the padded words, [guide; pixels] through timm ViT blocks (1 block / 8 heads on the
# shallow level, 3 blocks / 16 heads on the deep one, MLP ratio 2, no qkv bias); the port's
# CrossViT fusion writes only the guide token, which its head drops, so it is not built. The
# 'lgce' row (variant='effective') runs the fusion before the self-attention instead.
_base_ = ['./lgce-neck_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']
model = dict(
    neck=dict(necks=[
        dict(type='LanguageFusionNeck', in_channels=[32, 64, 128, 256], text_dim=384,
             num_heads=[2, 2, 4, 8], coord_feats=True),
        dict(type='LGCENeck', in_channels=[32, 64, 128, 256], text_channels=384,
             stage_pair=(2, 3), variant='port', num_heads=(8, 16), depth=(1, 3),
             mlp_ratio=2, qkv_bias=False),
    ]))
