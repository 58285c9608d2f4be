# FIANet's parts on the demo recipe, the comparison row of the BTDNet ladder
# (configs/btdnet/README.md): the ladder's row 0 (ResNet-18 + late-fusion neck with pixel
# coordinates + LAVT head, frozen MiniLM-L6, 600-1,500 iterations) with LAVT's late PWAM
# replaced by FIANet's FIAM (PWAM + gate + object-position alignment + channel modulation,
# `FIAMFusionNeck`), followed by one TMEM block, and the decoupled object / position texts of
# `DecoupledTextEncoder` (frozen and cached like row 0's encoder). Loss as FIANet and
# row 0: 0.9 weighted CE + 0.1 Dice. Late fusion on a plain backbone is an mmrrsis design for
# an equal-recipe comparison, not FIANet's architecture (FIAM inside Swin:
# fianet_swin-tiny_minilm_1xb16-2k_synth-128x128.py).
_base_ = ['../btdnet/btdnet-neck-abl0-lavt_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']
model = dict(
    type='FIANetEncoderDecoder',
    text_encoder=dict(type='DecoupledTextEncoder', object_categories='synth',
                      position_rule='reference'),
    neck=dict(
        _delete_=True,
        type='SequentialNeck',
        necks=[
            dict(type='FIAMFusionNeck', in_channels=[32, 64, 128, 256], text_dim=384,
                 num_heads=[2, 2, 4, 8], coord_feats=True, channel_ratio=8,
                 spatial_kernel=3),
            dict(type='TMEMNeck', in_channels=[32, 64, 128, 256], text_channels=384,
                 num_blocks=1, norm_cfg=dict(type='BN', requires_grad=True)),
        ]))
