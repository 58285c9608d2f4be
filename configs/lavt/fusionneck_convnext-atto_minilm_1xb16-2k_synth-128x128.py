# Late language fusion over MMPretrain's ConvNeXt-Atto (channels 40, 80, 160, 320; needs the
# optional `pip install mmpretrain`): LanguageFusionNeck applies LAVT's PWAM and language gate
# to each of its four maps, then the LAVT head decodes them. Same data, text encoder and
# schedule as the demo LAVT; only the backbone, the neck and the head's in_channels change.
_base_ = './lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py'
feat_channels = [40, 80, 160, 320]
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ConvNeXt',
        arch='atto',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        gap_before_final_norm=False),
    neck=dict(type='LanguageFusionNeck', in_channels=feat_channels, text_dim=384),
    decode_head=dict(in_channels=feat_channels))
