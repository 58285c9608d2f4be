# Ablation control (synthetic): the T-BTD head on the plain LAVT backbone (PWAM, no BSC), i.e.
# row 0 with row 2's head, to separate the head's effect from BSC's. The plain segmentor hands
# the encoder's words (not BSC-updated ones) to the head.
_base_ = ['../lavt/lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='TBTDHead',
        in_channels=[32, 64, 128, 256],
        in_index=[0, 1, 2, 3],
        channels=64,
        text_dim=384,
        num_classes=2,
        mci='aspp',
        dilations=(1, 3, 6, 9),
        query_decoder=True,
        query_heads=8,
        combine='softmax_pair',
        single_stream=False,
        lambda_aux=0.4,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=True,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=False, class_weight=[0.9, 1.1],
                 loss_weight=0.9),
            dict(type='RefDiceLoss', loss_weight=0.1),
        ]))
