# A small FIANet for CPU runs on the synthetic set: the synthetic LAVT config with FIAM after
# every stage, the decoupled MiniLM text (synthetic category vocabulary) and one TMEM block.
_base_ = '../lavt/lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py'
model = dict(
    type='FIANetEncoderDecoder',
    text_encoder=dict(type='DecoupledTextEncoder', object_categories='synth',
                      position_rule='reference'),
    backbone=dict(type='FIANetSwinTransformer', channel_ratio=8, spatial_kernel=3),
    neck=dict(
        type='TMEMNeck',
        in_channels=[32, 64, 128, 256],
        text_channels=384,
        num_blocks=1,
        norm_cfg=dict(type='BN', requires_grad=True)))
