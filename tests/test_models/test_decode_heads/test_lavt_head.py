# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData

import mmrrsis  # noqa: F401  (fills the registries)
from mmrrsis.testing import assert_every_parameter_learns
from mmrrsis.models.decode_heads import LAVTHead
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

IN_CHANNELS = [8, 16, 32, 64]


def _inputs(batch=2, size=64):
    g = torch.Generator().manual_seed(0)
    return tuple(
        torch.randn(batch, c, size // 4 // 2**i, size // 4 // 2**i, generator=g)
        for i, c in enumerate(IN_CHANNELS))


def _build(**kwargs):
    cfg = dict(type='LAVTHead', in_channels=IN_CHANNELS, channels=16)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def test_forward_shape_and_structure():
    head = _build()
    logits = head(_inputs())
    assert logits.shape == (2, 2, 16, 16)
    # LAVT's SimpleDecoding: cat(up(Y), F_k) -> [3x3 conv (no bias), BN, ReLU] x 2
    assert len(head.fuse_layers) == 3
    first = head.fuse_layers[2][0]
    assert first.conv.in_channels == 64 + 32 and first.conv.bias is None
    assert isinstance(first.bn, torch.nn.BatchNorm2d)
    assert head.fuse_layers[0][0].conv.in_channels == 16 + 8
    assert head.align_corners and head.input_transform == 'multiple_select'
    # extra (finer) backbone outputs are skipped through in_index
    head3 = _build(in_channels=IN_CHANNELS[1:], in_index=[1, 2, 3])
    assert head3(_inputs()).shape == (2, 2, 8, 8)
    with pytest.raises(ValueError):
        _build(in_index=3, in_channels=64, input_transform=None)


def test_matches_manual_decoding():
    head = _build().eval()
    feats = _inputs()
    up = dict(mode='bilinear', align_corners=True)
    y = feats[3]
    for k in (2, 1, 0):
        y = F.interpolate(y, size=feats[k].shape[2:], **up)
        y = head.fuse_layers[k](torch.cat([y, feats[k]], 1))
    torch.testing.assert_close(head(feats), head.conv_seg(y))


def test_loss_and_predict():
    head = _build(loss_decode=[
        dict(type='CrossEntropyLoss', class_weight=[0.9, 1.1], loss_weight=0.9),
        dict(type='RefDiceLoss', loss_weight=0.1)
    ])
    head.train()
    samples = []
    for _ in range(2):
        gt = torch.zeros(1, 64, 64, dtype=torch.long)
        gt[:, 10:30, 20:40] = 1
        # no 255 here: mmseg 1.2.2's cross_entropy with class_weight indexes the weights
        # by the label and fails on ignored pixels (IndexError)
        sample = SegDataSample(gt_sem_seg=PixelData(data=gt))
        sample.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64)))
        samples.append(sample)
    losses = head.loss(_inputs(), samples, train_cfg=dict())
    assert set(losses) == {'loss_ce', 'loss_dice', 'acc_seg'}
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    assert_every_parameter_learns(head.named_parameters())

    head.eval()
    metas = [dict(img_shape=(64, 64), ori_shape=(64, 64))] * 2
    with torch.no_grad():
        seg = head.predict(_inputs(), metas, test_cfg=dict())
        expected = F.interpolate(head(_inputs()), size=(64, 64), mode='bilinear',
                                 align_corners=True)
    assert seg.shape == (2, 2, 64, 64)
    torch.testing.assert_close(seg, expected)


def test_parameter_count_matches_lavt():
    """models.md §5: SimpleDecoding for Swin-B has about 20.7M parameters."""
    head = LAVTHead(in_channels=[128, 256, 512, 1024], channels=512)
    assert abs(sum(p.numel() for p in head.parameters()) - 20.7e6) < 0.1e6


def test_direct_construction():
    head = LAVTHead(in_channels=[8, 16], channels=16, in_index=[0, 1], align_corners=False,
                    norm_cfg=dict(type='GN', num_groups=4))
    out = head(tuple(torch.randn(1, c, s, s) for c, s in ((8, 8), (16, 4))))
    assert out.shape == (1, 2, 8, 8)
    assert not head.align_corners
