# LGCE's parts on the demo recipe, the comparison row of the BTDNet ladder
# (configs/btdnet/README.md): the ladder's row 0 (ResNet-18 + LAVT's late PWAM neck with
# pixel coordinates + LAVT head, frozen MiniLM-L6) followed by the LGCE neck on the last two
# levels, trained with LGCE's loss (weighted CE only). Late fusion on a plain backbone is an
# mmrrsis design for an equal-recipe comparison, not LGCE's architecture (LAVT Swin + LGCE:
# lgce_swin-tiny_minilm_1xb16-2k_synth-128x128.py).
_base_ = ['../btdnet/btdnet-neck-abl0-lavt_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']
model = dict(
    neck=dict(
        _delete_=True,
        type='SequentialNeck',
        necks=[
            dict(type='LanguageFusionNeck', in_channels=[32, 64, 128, 256], text_dim=384,
                 num_heads=[2, 2, 4, 8], coord_feats=True),
            dict(type='LGCENeck', in_channels=[32, 64, 128, 256], text_channels=384,
                 stage_pair=(2, 3), num_heads=8, mlp_ratio=4, depth=1),
        ]),
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, class_weight=[0.9, 1.1],
             loss_weight=1.0)
    ]))
