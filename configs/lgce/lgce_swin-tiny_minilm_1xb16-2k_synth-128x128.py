# A small LGCE for CPU runs on the synthetic set: the synthetic LAVT config plus the LGCE neck
# on stages 3 and 4, trained with the weighted CE only (LGCE's loss).
_base_ = '../lavt/lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py'
model = dict(
    neck=dict(
        type='LGCENeck',
        in_channels=[32, 64, 128, 256],
        text_channels=384,
        stage_pair=(2, 3),
        num_heads=8,
        mlp_ratio=4,
        depth=1),
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, class_weight=[0.9, 1.1],
             loss_weight=1.0)
    ]))
