# LGCE's language-guided neck on the demo recipe, the comparison row of the BTDNet ladder
# (configs/btdnet/README.md): the ladder's row 0 (ResNet-18 + LAVT's PWAM + gate after the
# backbone with pixel coordinates, frozen cached MiniLM-L6, LAVT head, 0.9 weighted CE + 0.1
# Dice) followed by the LGCE neck on the last two levels (`SequentialNeck`); only the neck
# differs from row 0. LGCE's own loss (weighted CE only) is the `-celoss` variant: at the
# ladder's 600 iterations it predicted background everywhere (0.0 oIoU, README). Late fusion
# on a plain backbone is an mmrrsis design for an equal-recipe comparison, not LGCE's
# architecture (LAVT Swin + LGCE: lgce_swin-tiny_minilm_1xb16-2k_synth-128x128.py).
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
        ]))
