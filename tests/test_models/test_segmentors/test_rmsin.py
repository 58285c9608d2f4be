# Copyright (c) mmrrsis contributors. All rights reserved.
"""RMSIN components: shapes, gradients, widths that follow the backbone, parity pieces."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

import mmrrsis  # noqa: F401
from mmrrsis.testing import (assert_every_parameter_learns, cim_zeros, make_tiny_bert,
                             text_features_zeros)


@pytest.fixture(scope='module')
def tiny_text(tmp_path_factory):
    return make_tiny_bert(str(tmp_path_factory.mktemp('bert')))


def _cfg(text_dir, embed=16):
    cfg = Config.fromfile(str(Path(__file__).resolve().parents[3] / 'configs' / 'rmsin' /
                             'rmsin_swin-tiny_minilm_1xb16-2k_synth-128x128.py'))
    m = cfg.model
    m.text_encoder = dict(type='HFTextEncoder', name_or_path=text_dir, max_tokens=8,
                          pretrained=False)
    m.backbone.update(embed_dims=embed, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4],
                      text_dim=32, pretrain_img_size=64)
    m.neck.update(grid=(2, 2))
    m.decode_head.update(channels=None)
    m.data_preprocessor.size = (64, 64)
    return m


def test_widths_follow_the_backbone_and_every_parameter_learns(tiny_text):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    model = MODELS.build(_cfg(tiny_text, embed=8))
    model.init_weights()
    assert model.neck.in_channels == [8, 16, 32, 64]
    assert model.decode_head.in_channels == [8, 16, 32, 64] and model.decode_head.channels == 32
    assert sum(p.numel() for p in model.neck.blocks[0].intra_ff.parameters()) > 0
    samples = []
    for i, text in enumerate(['the red car', 'a tank on the left']):
        s = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64),
                                        pad_shape=(64, 64), text=text))
        gt = torch.zeros(1, 64, 64, dtype=torch.long)
        gt[:, 10 + i:30, 5:40] = 1
        s.gt_sem_seg = PixelData(data=gt)
        samples.append(s)
    inputs = [torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8) for _ in samples]
    model.train()
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), True)
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    repblock = r'backbone\.visual_branches\.\d\.repblock\.'
    assert_every_parameter_learns(model.named_parameters(), {
        **text_features_zeros(r'text_encoder\.model\.', 1),
        **cim_zeros(r'neck\.'),
        r'backbone\.norm\d\.bias': 'the stage outputs reach the loss only through CIM, whose '
        'paths start with 1x1 convs and train-mode BatchNorms that subtract the constant',
        rf'{repblock}(brb_1x1(_2)?\.conv\.weight|brb_3x3(_2)?\.conv1\.weight)':
        'RepBlock: a 1x1 conv on one channel (a scalar) before a train-mode BatchNorm, which '
        'divides the scale away (the failure of issue 24: 0 or 1e-12 by the CPU)',
        rf'{repblock}brb_3x3(_2)?\.bn1\.weight':
        'RepBlock: a one-channel BatchNorm scale before a 3x3 conv and a second train-mode '
        'BatchNorm, which divides it away while the first shift is 0 (initialisation)',
    })
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(dict(inputs=inputs, data_samples=samples),
                                              False), mode='predict')
    assert out[0].pred_sem_seg.shape == (64, 64)


def test_visual_branch_runs_beside_pwam(tiny_text):
    model = MODELS.build(_cfg(tiny_text)).eval()
    bb = model.backbone
    assert set(bb.visual_branches) == {'0', '1', '2'}  # not after the last stage
    x, text, mask = torch.randn(1, 3, 64, 64), torch.randn(1, 5, 32), torch.ones(1, 5)
    with torch.no_grad():
        with_visual = bb(x, text, mask)
        for gate in bb.visual_gates.values():
            gate.gate[2].weight.zero_()  # tanh(0) = 0: the visual branch adds nothing
        without = bb(x, text, mask)
        lavt = MODELS.build(dict(_cfg(tiny_text).backbone, type='LAVTSwinTransformer')).eval()
        lavt.load_state_dict({k: v for k, v in bb.state_dict().items()
                              if not k.startswith('visual_')})
        reference = lavt(x, text, mask)
    assert (with_visual[1] - without[1]).abs().max() > 0
    for a, b in zip(without, reference):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_cim_keeps_shapes_and_refuses_odd_widths():
    neck = MODELS.build(dict(type='CIMNeck', in_channels=[8, 16, 32, 64], grid=(3, 3),
                             key_dim=4, num_heads=2)).eval()
    feats = [torch.randn(2, c, s, s) for c, s in ((8, 24), (16, 12), (32, 6), (64, 3))]
    outs = neck(feats)
    assert [o.shape for o in outs] == [f.shape for f in feats]
    # other input sizes are pooled to the grid (the reference supports only its own)
    outs = neck([torch.randn(1, c, s, s) for c, s in ((8, 32), (16, 16), (32, 8), (64, 4))])
    assert outs[3].shape == (1, 64, 4, 4)
    with pytest.raises(ValueError, match='by 4'):
        MODELS.build(dict(type='CIMNeck', in_channels=[6, 16, 32, 64]))
