# Ablation row 1 (synthetic, the LAVT demo schedule): LAVT + BSC (BSC backbone, LAVT head,
# no D-MOLS). Row 0 is ../lavt/lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py.
_base_ = ['../lavt/lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py']
model = dict(
    type='BTDNetEncoderDecoder',
    backbone=dict(
        type='BSCSwinTransformer',
        bidirectional_stages=(0, 1, 2, 3),
        # heads: the LAVT row's pwam_num_heads (2, 2, 4, 8)
        bsc_cfg=dict(spatial_context='multi_dilation', context_dilations=(1, 2, 3))),
    loss_dmols=None)
