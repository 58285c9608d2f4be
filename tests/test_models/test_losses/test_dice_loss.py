# Copyright (c) mmrrsis contributors. All rights reserved.
import numpy as np
import pytest
import torch

import mmrrsis  # noqa: F401  (fills the registries)
from mmrrsis.models.losses import RefDiceLoss
from mmseg.registry import MODELS


def _numpy_dice(logits, label, smooth=1e-6, ignore_index=255):
    """The reference DiceLoss (RMSIN loss/loss.py) in numpy, with ignored pixels dropped."""
    e = np.exp(logits - logits.max(1, keepdims=True))
    prob = e / e.sum(1, keepdims=True)
    total = 0.0
    for b in range(logits.shape[0]):
        valid = label[b] != ignore_index
        for c in range(logits.shape[1]):
            p = prob[b, c][valid]
            y = (label[b][valid] == c).astype(np.float64)
            total += 1 - (2 * (p * y).sum() + smooth) / (p.sum() + y.sum() + smooth)
    return total


def _data(seed=0, batch=3, size=8):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(batch, 2, size, size)).astype(np.float32)
    label = (rng.random((batch, size, size)) > 0.6).astype(np.int64)
    return logits, label


def test_matches_numpy_reference():
    logits, label = _data()
    loss = RefDiceLoss()(torch.from_numpy(logits), torch.from_numpy(label))
    np.testing.assert_allclose(loss.item(), _numpy_dice(logits, label), rtol=1e-5)


def test_ignore_index_weight_and_reduction():
    logits, label = _data(seed=1)
    label[0, :3] = 255
    label[2, :, :2] = 255
    t_logits, t_label = torch.from_numpy(logits), torch.from_numpy(label)
    loss_fn = MODELS.build(dict(type='RefDiceLoss', loss_weight=0.1))
    loss = loss_fn(t_logits, t_label, ignore_index=255)
    np.testing.assert_allclose(loss.item(), 0.1 * _numpy_dice(logits, label), rtol=1e-5)
    # per-pixel weights of 0 act like ignored pixels
    weight = torch.from_numpy((label != 255).astype(np.float32))
    clean = np.where(label == 255, 0, label)
    loss_w = RefDiceLoss()(t_logits, torch.from_numpy(clean), weight=weight)
    np.testing.assert_allclose(loss_w.item(), _numpy_dice(logits, label), rtol=1e-5)
    mean = RefDiceLoss(reduction='mean')(t_logits, t_label)
    np.testing.assert_allclose(mean.item(), _numpy_dice(logits, label) / 6, rtol=1e-5)
    fg_only = RefDiceLoss(include_background=False)(t_logits, t_label)
    assert fg_only < loss_fn(t_logits, t_label) / 0.1
    with pytest.raises(ValueError):
        RefDiceLoss(reduction='none')


def test_sum_reduction_grows_with_batch():
    logits, label = _data(seed=2, batch=2)
    t_logits, t_label = torch.from_numpy(logits), torch.from_numpy(label)
    single = RefDiceLoss()(t_logits, t_label)
    double = RefDiceLoss()(torch.cat([t_logits] * 2), torch.cat([t_label] * 2))
    torch.testing.assert_close(double, 2 * single)


def test_perfect_prediction_gradient_and_name():
    label = torch.zeros(2, 8, 8, dtype=torch.long)
    label[:, 2:5, 3:6] = 1
    perfect = torch.stack([(label == 0), (label == 1)], 1).float() * 40
    assert RefDiceLoss()(perfect, label) < 1e-6
    logits = torch.zeros(2, 2, 8, 8, requires_grad=True)
    RefDiceLoss()(logits, label).backward()
    assert logits.grad[:, 1][label == 1].lt(0).all()  # pushes the target logit up
    # a one-channel sigmoid logit z equals the 2-class logits (0, z)
    z = torch.randn(2, 1, 8, 8)
    torch.testing.assert_close(RefDiceLoss()(z, label),
                               RefDiceLoss()(torch.cat([torch.zeros_like(z), z], 1), label))
    assert RefDiceLoss().loss_name == 'loss_dice'
    assert RefDiceLoss(loss_name='loss_refdice').loss_name == 'loss_refdice'
