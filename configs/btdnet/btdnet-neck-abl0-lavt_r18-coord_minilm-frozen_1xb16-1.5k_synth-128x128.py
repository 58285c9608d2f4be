# BTDNet ladder on the demo recipe, row 0 (LAVT): ResNet-18 + LAVT's PWAM (+ gate) as a late-
# fusion neck with pixel coordinates + LAVT's SimpleDecoding head; frozen cached MiniLM-L6,
# bfloat16 autocast (the demo's recipe, configs/lavt/README.md). Rows 1-3 change one part each.
_base_ = ['../lavt/fusionneck-tbtd_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='LAVTHead',
        in_channels=[32, 64, 128, 256],
        in_index=[0, 1, 2, 3],
        channels=64,
        num_classes=2,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=True,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=False, class_weight=[0.9, 1.1],
                 loss_weight=0.9),
            dict(type='RefDiceLoss', loss_weight=0.1),
        ]))
