# Copyright (c) mmrrsis contributors. All rights reserved.
"""SequentialNeck and FIAMFusionNeck: the necks of the FIANet / LGCE rows of the ladder."""
import pytest
import torch

import mmrrsis  # noqa: F401  (fills the registries)
from mmrrsis.models.necks import FIAMFusionNeck, LanguageFusionNeck, SequentialNeck
from mmseg.registry import MODELS
from mmrrsis.testing import assert_every_parameter_learns, random_projection_loss

TEXT_DIM = 12
CHANNELS = [8, 16, 32, 64]


def _feats(B=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(B, c, size // 2**i, size // 2**i, generator=g, dtype=torch.float64)
        for i, c in enumerate(CHANNELS))


def _texts(B=2, L=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    text = torch.randn(B, L, TEXT_DIM, generator=g, dtype=torch.float64)
    mask = torch.ones(B, L)
    mask[0, 4:] = 0
    objects = torch.zeros(B, L)
    objects[0, 1:3] = 1
    objects[1, 2] = 1
    position = torch.zeros(B, L)
    position[:, 2:4] = 1
    return dict(text_feats=text, text_mask=mask, object_feats=text.flip(1),
                object_mask=objects, position_feats=text * 0.5, position_mask=position)


def _fiam(**kw):
    neck = FIAMFusionNeck(in_channels=CHANNELS, text_dim=TEXT_DIM, num_heads=2, **kw)
    neck.init_weights()
    return neck.double().eval()


def test_fiam_is_lavt_fusion_times_channel_weights_without_objects():
    """With no object words OPAB adds exactly 0, so FIAM's update is LAVT's gated PWAM update
    times the channel weights w = sigmoid(FC2(ReLU(FC1(mean X)))), computed here by hand."""
    feats, texts = _feats(), _texts()
    texts['object_mask'] = torch.zeros_like(texts['object_mask'])
    fiam = _fiam()
    lavt = LanguageFusionNeck(in_channels=CHANNELS, text_dim=TEXT_DIM, num_heads=2).double()
    lavt.load_state_dict(fiam.state_dict(), strict=False)  # same PWAMs and gates
    lavt.eval()
    with torch.no_grad():
        out = fiam(feats, **texts)
        ref = lavt(feats, texts['text_feats'], texts['text_mask'])
    for k, (o, r, x) in enumerate(zip(out, ref, feats)):
        fc1, fc2 = fiam.channel_mods[k].fc[0], fiam.channel_mods[k].fc[2]
        mean = x.flatten(2).mean(dim=2)  # (B, C)
        w = torch.sigmoid(torch.relu(mean @ fc1.weight.T + fc1.bias) @ fc2.weight.T + fc2.bias)
        expected = x + (r - x) * w[:, :, None, None]
        torch.testing.assert_close(o, expected, rtol=1e-10, atol=1e-12)


def test_fiam_reads_objects_and_every_parameter_learns():
    feats, texts = _feats(), _texts()
    fiam = _fiam()
    fiam.train()
    with torch.no_grad():  # the modulation MLP of the first level has one hidden unit (C/8):
        for mod in fiam.channel_mods:  # keep its ReLU active, or its inputs get exact zeros
            mod.fc[0].bias.fill_(1.)
    feats = tuple(f.requires_grad_() for f in feats)
    out = fiam(feats, **texts)
    assert [o.shape for o in out] == [f.shape for f in feats]
    random_projection_loss(*out).backward()
    assert_every_parameter_learns(fiam.named_parameters())
    no_objects = dict(texts, object_mask=torch.zeros_like(texts['object_mask']))
    with torch.no_grad():
        changed = fiam(feats, **no_objects)
    assert not torch.allclose(changed[0], out[0].detach())


def test_fiam_needs_decoupled_texts_and_gate():
    fiam = _fiam()
    texts = _texts()
    with pytest.raises(ValueError, match='decoupled object and position texts'):
        fiam(_feats(), texts['text_feats'], texts['text_mask'])
    with pytest.raises(ValueError, match='gate=True'):
        FIAMFusionNeck(in_channels=CHANNELS, text_dim=TEXT_DIM, gate=False)


def test_sequential_neck_equals_the_necks_applied_by_hand():
    feats, texts = _feats(), _texts()
    cfgs = [dict(type='FIAMFusionNeck', in_channels=CHANNELS, text_dim=TEXT_DIM, num_heads=2),
            dict(type='LGCENeck', in_channels=CHANNELS, text_channels=TEXT_DIM,
                 stage_pair=(2, 3), num_heads=2, mlp_ratio=2, depth=1)]
    seq = MODELS.build(dict(type='SequentialNeck', necks=cfgs))
    seq.init_weights()
    seq = seq.double().eval()
    first, second = seq.necks
    with torch.no_grad():
        out = seq(feats, **texts)
        mid = first(feats, **texts)
        ref = second(mid, texts['text_feats'], texts['text_mask'])  # LGCE takes no objects
    for o, r in zip(out, ref):
        assert torch.equal(o, r)
    assert seq._keys[1] == ('text_feats', 'text_mask')


def test_sequential_neck_errors():
    with pytest.raises(ValueError, match='at least one neck'):
        SequentialNeck(necks=[])
    seq = SequentialNeck(necks=[dict(type='LanguageFusionNeck', in_channels=CHANNELS,
                                     text_dim=TEXT_DIM)])
    with pytest.raises(ValueError, match=r"LanguageFusionNeck inside SequentialNeck needs "
                                         r"\['text_feats'\]"):
        seq(tuple(f.float() for f in _feats()))
