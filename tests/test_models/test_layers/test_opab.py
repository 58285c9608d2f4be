# Copyright (c) mmrrsis contributors. All rights reserved.
import torch

from mmrrsis.models.layers import ChannelModulation, ObjectPositionAlignment
from mmrrsis.testing import assert_every_parameter_learns, random_projection_loss


def _inputs(B=2, H=4, W=4, C=16, L=6, Ct=8):
    torch.manual_seed(0)
    x = torch.randn(B, H * W, C, requires_grad=True)
    text = torch.randn(B, L, Ct)
    context = torch.tensor([[1, 1, 1, 1, 0, 0]] * B)
    return x, (H, W), text, context


def test_opab_shape_and_gradients():
    x, hw, text, context = _inputs()
    opab = ObjectPositionAlignment(16, text_channels=8)
    objects = torch.tensor([[0, 1, 1, 0, 0, 0], [0, 0, 1, 0, 0, 0]])
    out = opab(x, hw, text, objects, text, context)
    assert out.shape == (2, 16, 16)
    random_projection_loss(out).backward()
    assert_every_parameter_learns(opab.named_parameters())
    assert x.grad is not None


def test_empty_object_mask_gives_exactly_zero():
    x, hw, text, context = _inputs()
    opab = ObjectPositionAlignment(16, text_channels=8)
    objects = torch.tensor([[0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0]])
    out = opab(x, hw, text, objects, text, context)
    assert torch.equal(out[0], torch.zeros_like(out[0]))  # exactly 0, not just close
    assert out[1].abs().sum() > 0


def test_channel_modulation():
    x = torch.randn(2, 10, 16)
    w = ChannelModulation(16, ratio=8)(x)
    assert w.shape == (2, 1, 16) and torch.all((w > 0) & (w < 1))
