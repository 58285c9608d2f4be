# Late language fusion over a plain MMSeg backbone: ResNet-18 (V1c stem, widths halved to
# 32-256 for CPU runs) without any language inside; LanguageFusionNeck applies LAVT's PWAM and
# language gate to each of its four maps, then the LAVT head decodes them. Same data, text
# encoder and schedule as the demo LAVT; only the backbone, the neck and the head's
# in_channels change. For ImageNet weights set stem_channels=base_channels=64 (channels
# 64-512) and init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet18_v1c').
_base_ = './lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py'
feat_channels = [32, 64, 128, 256]
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNetV1c',
        depth=18,
        stem_channels=32,
        base_channels=32,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 2, 2),
        dilations=(1, 1, 1, 1),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    neck=dict(type='LanguageFusionNeck', in_channels=feat_channels, text_dim=384),
    decode_head=dict(in_channels=feat_channels))
