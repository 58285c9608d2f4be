# RMSIN on the synthetic set (CPU): the LAVT synthetic recipe (small Swin, MiniLM-L6, 128x128,
# batch 16, AdamW 1e-3, bfloat16 autocast) with RMSIN's modules; the CIM grid is the last
# stage at 128x128 (4x4).
_base_ = ['../lavt/lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py']
model = dict(
    type='RMSINEncoderDecoder',
    backbone=dict(type='RMSINSwinTransformer'),
    neck=dict(type='CIMNeck', in_channels=None, grid=(4, 4), num_blocks=1, key_dim=8,
              num_heads=4),
    decode_head=dict(
        _delete_=True,
        type='RMSINHead',
        in_channels=None,
        channels=64,
        in_index=[0, 1, 2, 3],
        num_classes=2,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=True,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=False, class_weight=[0.9, 1.1],
                 loss_weight=0.9),
            dict(type='RefDiceLoss', loss_weight=0.1),
        ]))
