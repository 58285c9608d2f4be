# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest
import torch
from mmseg.registry import MODELS
from mmrrsis.testing import assert_every_parameter_learns, random_projection_loss

TINY = dict(type='FIANetSwinTransformer', pretrain_img_size=64, embed_dims=16,
            depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4], window_size=4, text_dim=8,
            drop_path_rate=0.0, channel_ratio=2)  # ratio 8 leaves 2 hidden units at 16 ch


def _texts(B=2, L=6, Ct=8):
    torch.manual_seed(0)
    context = torch.tensor([[1, 1, 1, 1, 1, 0]] * B)
    objects = torch.tensor([[0, 1, 1, 0, 0, 0]] * B)
    position = torch.tensor([[0, 0, 0, 1, 1, 0]] * B)
    feats = [torch.randn(B, L, Ct) for _ in range(3)]
    return dict(text_feats=feats[0], text_mask=context, object_feats=feats[1],
                object_mask=objects, position_feats=feats[2], position_mask=position)


def test_shapes_and_every_parameter_gets_a_gradient():
    model = MODELS.build(TINY)
    model.init_weights()
    outs = model(torch.randn(2, 3, 64, 64), **_texts())
    assert [o.shape for o in outs] == [(2, 16, 16, 16), (2, 32, 8, 8), (2, 64, 4, 4),
                                       (2, 128, 2, 2)]
    random_projection_loss(*outs).backward()
    assert_every_parameter_learns(model.named_parameters())
    # FIAM at stages 0-2; the last stage only has its (context) PWAM
    assert sorted(model.opabs) == sorted(model.channel_mods) == ['0', '1', '2']
    assert sorted(model.pwams) == ['0', '1', '2', '3']


def test_object_text_matters_and_empty_object_is_ignored():
    model = MODELS.build(TINY).eval()
    img = torch.randn(1, 3, 64, 64)
    texts = _texts(B=1)
    with torch.no_grad():
        base = model(img, **texts)
        other = model(img, **dict(texts, object_feats=texts['object_feats'] + 1))
        empty = dict(texts, object_mask=torch.zeros_like(texts['object_mask']))
        empty_a = model(img, **empty)
        empty_b = model(img, **dict(empty, object_feats=texts['object_feats'] + 1))
    assert not torch.allclose(base[-1], other[-1])
    assert all(torch.equal(a, b) for a, b in zip(empty_a, empty_b))
    # the first stage's output is the context PWAM output: FIAM changes only later stages
    assert torch.equal(base[0], other[0])


def test_ablation_switches_and_missing_texts():
    model = MODELS.build(dict(TINY, use_opab=False, use_channel_mod=False))
    assert len(model.opabs) == 0 and len(model.channel_mods) == 0
    texts = _texts()
    outs = model(torch.randn(2, 3, 64, 64), texts['text_feats'], texts['text_mask'])
    assert len(outs) == 4
    with pytest.raises(ValueError, match='decoupled'):
        MODELS.build(TINY)(torch.randn(2, 3, 64, 64), texts['text_feats'], texts['text_mask'])
