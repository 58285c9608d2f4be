# Copyright (c) mmrrsis contributors. All rights reserved.
import math

import pytest
import torch
import torch.nn.functional as F

from mmrrsis.models.layers import AdaptiveRotatedConv2d, rotation_matrix


def test_rotation_by_90_degrees_turns_the_kernel():
    w = torch.arange(9.).reshape(1, 9)
    rot = rotation_matrix(torch.tensor([math.pi / 2]))[0]
    turned = (rot @ w.T).reshape(3, 3)
    # counter-clockwise: [[0,1,2],[3,4,5],[6,7,8]] -> [[2,5,8],[1,4,7],[0,3,6]]
    torch.testing.assert_close(turned, torch.tensor([[2., 5., 8.], [1., 4., 7.], [0., 3., 6.]]),
                               atol=1e-6, rtol=0)
    torch.testing.assert_close(rotation_matrix(torch.tensor([0.0]))[0], torch.eye(9))
    neg = rotation_matrix(torch.tensor([-math.pi / 2]))[0]
    torch.testing.assert_close((neg @ w.T).reshape(3, 3),
                               torch.tensor([[6., 3., 0.], [7., 4., 1.], [8., 5., 2.]]),
                               atol=1e-6, rtol=0)


@pytest.mark.parametrize('kernel_number', [1, 2])
def test_against_a_direct_per_sample_convolution(kernel_number):
    torch.manual_seed(0)
    conv = AdaptiveRotatedConv2d(6, 5, kernel_number=kernel_number).eval()
    x = torch.randn(3, 6, 7, 8)
    out = conv(x)
    alphas, angles = conv.routing(x)
    assert angles.abs().max() < 40 / 180 * math.pi
    for b in range(3):
        w = torch.zeros(5, 6, 3, 3)
        for n in range(kernel_number):
            rot = rotation_matrix(angles[b, n:n + 1])[0]  # (9, 9)
            flat = conv.weight[n].reshape(30, 9)
            w += alphas[b, n] * (flat @ rot.T).reshape(5, 6, 3, 3)
        ref = F.conv2d(x[b:b + 1], w, padding=1)
        torch.testing.assert_close(out[b:b + 1], ref, atol=1e-5, rtol=1e-5)
    out.sum().backward()
    assert all(p.grad is not None for p in conv.parameters())


def test_refuses_what_it_does_not_implement():
    with pytest.raises(ValueError, match='3x3'):
        AdaptiveRotatedConv2d(4, 4, kernel_size=5)
