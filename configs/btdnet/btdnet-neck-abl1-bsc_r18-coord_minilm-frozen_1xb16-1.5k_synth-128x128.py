# Ladder row 1 (+BSC): row 0 with BSC instead of PWAM in the neck (BSCNeck: the words are
# updated level by level, image -> text), same heads per level and pixel coordinates.
_base_ = ['./btdnet-neck-abl0-lavt_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']
model = dict(
    type='BTDNetEncoderDecoder',
    neck=dict(
        _delete_=True,
        type='BSCNeck',
        in_channels=[32, 64, 128, 256],
        text_dim=384,
        num_heads=[2, 2, 4, 8],
        coord_feats=True,
        # the LAVT head reads no words: the last level's word update would feed nothing
        bidirectional=(True, True, True, False),
        # the ladder's rows were trained with BSC under bfloat16 autocast like the rest of the
        # model; the default (float32 BSC, docs/en/benchmark.md) came after them
        bsc_cfg=dict(spatial_context='multi_dilation', context_dilations=(1, 2, 3),
                     float32_under_autocast=False)),
    loss_dmols=None)
