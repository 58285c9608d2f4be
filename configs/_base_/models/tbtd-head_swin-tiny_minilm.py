# The small T-BTD head of the synthetic BTDNet configs (Swin embed 32 pyramid, 384-d MiniLM
# words), kept in one place so that ablation row 2 and its control row 0b use the same head.
# Use it as `model = dict(decode_head={{_base_.tbtd_head}})`: it replaces the base's head.
tbtd_head = dict(
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
    ])
