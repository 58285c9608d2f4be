# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest
import torch

import mmrrsis  # noqa: F401  (fills the registries)
from mmrrsis.testing import assert_every_parameter_learns, random_projection_loss
from mmrrsis.models.necks import LanguageFusionNeck
from mmseg.registry import MODELS

TEXT_DIM = 24


def _text(batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    text = torch.randn(batch, 5, TEXT_DIM, generator=g)
    mask = torch.ones(batch, 5)
    mask[0, 3:] = 0
    return text, mask


def _backbone_outputs(cfg, size=64):
    backbone = MODELS.build(cfg)
    backbone.eval()  # MMSeg's ResNet.train() returns None
    with torch.no_grad():
        return tuple(backbone(torch.randn(2, 3, size, size)))


RESNET18 = dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8)
MIT = dict(
    type='MixVisionTransformer',
    embed_dims=8,
    num_layers=[1, 1, 1, 1],
    num_heads=[1, 2, 4, 8],  # MiT's stage width is embed_dims * num_heads
    sr_ratios=[8, 4, 2, 1])


@pytest.mark.parametrize('backbone_cfg,channels', [(RESNET18, [8, 16, 32, 64]),
                                                   (MIT, [8, 16, 32, 64])])
def test_fusion_on_plain_backbones(backbone_cfg, channels):
    feats = _backbone_outputs(backbone_cfg)
    assert [f.shape[1] for f in feats] == channels
    neck = MODELS.build(
        dict(type='LanguageFusionNeck', in_channels=channels, text_dim=TEXT_DIM, num_heads=2))
    neck.init_weights()
    neck.eval()
    text, mask = _text()
    outs = neck(feats, text, mask)
    assert [o.shape for o in outs] == [f.shape for f in feats]
    for o, f in zip(outs, feats):
        assert not torch.allclose(o, f)
    # padding words change nothing
    perturbed = text.clone()
    perturbed[mask == 0] = 30 * torch.randn(int((mask == 0).sum()), TEXT_DIM)
    for a, b in zip(outs, neck(feats, perturbed, mask)):
        assert torch.equal(a, b)


def test_in_index_and_passthrough():
    feats = _backbone_outputs(RESNET18)
    neck = LanguageFusionNeck(in_channels=[32, 64], text_dim=TEXT_DIM, in_index=[2, 3])
    text, mask = _text()
    outs = neck(list(feats), text, mask)
    assert len(outs) == 4
    assert outs[0] is feats[0] and outs[1] is feats[1]
    assert outs[2].shape == feats[2].shape and not torch.allclose(outs[2], feats[2])
    with pytest.raises(ValueError):
        LanguageFusionNeck(in_channels=[32, 64], in_index=[3])
    with pytest.raises(ValueError):
        LanguageFusionNeck(in_channels=[32], out_type='sum')


def test_output_types_and_gradients():
    feats = [torch.randn(2, c, s, s, requires_grad=True) for c, s in ((8, 8), (16, 4))]
    text, mask = _text()
    text.requires_grad_(True)

    neck = LanguageFusionNeck(in_channels=[8, 16], text_dim=TEXT_DIM)
    random_projection_loss(*neck(feats, text, mask)).backward()
    assert_every_parameter_learns(neck.named_parameters())
    assert text.grad.any() and all(f.grad.any() for f in feats)

    # 'fusion' returns LN(PWAM(X)) as a LAVT stage does; no gate is built
    neck = LanguageFusionNeck(in_channels=[8, 16], text_dim=TEXT_DIM, out_type='fusion',
                              norm_cfg=dict(type='LN')).eval()
    assert neck.gates is None
    out = neck(feats, text, mask)[0]
    tokens = feats[0].flatten(2).transpose(1, 2)
    expected = neck.norms[0](neck.pwams[0](tokens, text, mask))
    torch.testing.assert_close(out, expected.transpose(1, 2).reshape(2, 8, 8, 8))

    # without gate the fused features are added unweighted
    neck = LanguageFusionNeck(in_channels=[8, 16], text_dim=TEXT_DIM, gate=False).eval()
    out = neck(feats, text, mask)[1]
    tokens = feats[1].flatten(2).transpose(1, 2)
    expected = tokens + neck.pwams[1](tokens, text, mask)
    torch.testing.assert_close(out, expected.transpose(1, 2).reshape(2, 16, 4, 4))


def test_coordinate_features():
    """``coord_feats=True`` hands each level's grid shape to its PWAM (x, y channels)."""
    feats = [torch.randn(2, 8, 4, 6), torch.randn(2, 16, 2, 3)]
    text, mask = _text()
    neck = LanguageFusionNeck(in_channels=[8, 16], text_dim=TEXT_DIM, coord_feats=True).eval()
    assert [p.vis_project[0].in_channels for p in neck.pwams] == [10, 18]
    outs = neck(feats, text, mask)
    for k, (out, f) in enumerate(zip(outs, feats)):
        B, C, H, W = f.shape
        tokens = f.flatten(2).transpose(1, 2)
        expected = neck.gates[k](neck.pwams[k](tokens, text, mask, (H, W)), identity=tokens)
        torch.testing.assert_close(out, expected.transpose(1, 2).reshape(B, C, H, W))
