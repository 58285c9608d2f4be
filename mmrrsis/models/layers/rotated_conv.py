# Copyright (c) mmrrsis contributors. All rights reserved.
"""Adaptive Rotated Convolution (Pu et al., ICCV 2023, arXiv 2303.07820), as RMSIN's decoder
uses it: a 3x3 kernel rotated per sample by an angle, scaled by a weight, both predicted from
the input by a routing function. Pure PyTorch (one grouped convolution)."""
import math
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import MODELS as MMENGINE_MODELS
from torch import Tensor


def rotation_matrix(theta: Tensor) -> Tensor:
    """The 9x9 matrices R(theta) that rotate a row-major 3x3 kernel by ``theta`` (radians,
    counter-clockwise): ``rotated[p] = sum_q R[p, q] * w[q]``. Corners move along the ring of
    the 8 outer positions, edge midpoints interpolate bilinearly with the centre; the centre
    stays. Two interpolation schemes, one for theta >= 0, one for theta < 0.

    Args:
        theta (Tensor): Angles (N, ).

    Returns:
        Tensor: (N, 9, 9).
    """
    x, y = torch.cos(theta), torch.sin(theta)
    a, b, c = x - y, x * y, x + y
    one = torch.ones_like(x)
    pos = torch.zeros(theta.shape[0], 9, 9, dtype=theta.dtype, device=theta.device)
    neg = torch.zeros_like(pos)
    # theta >= 0: (output position, input position, coefficient)
    for p, q, v in ((0, 0, a), (0, 1, 1 - a),
                    (1, 1, x - b), (1, 2, b), (1, 4, 1 - c + b), (1, 5, y - b),
                    (2, 2, a), (2, 5, 1 - a),
                    (3, 0, b), (3, 1, y - b), (3, 3, x - b), (3, 4, 1 - c + b),
                    (4, 4, one),
                    (5, 4, 1 - c + b), (5, 5, x - b), (5, 7, y - b), (5, 8, b),
                    (6, 3, 1 - a), (6, 6, a),
                    (7, 3, y - b), (7, 4, 1 - c + b), (7, 6, b), (7, 7, x - b),
                    (8, 7, 1 - a), (8, 8, a)):
        pos[:, p, q] = v
    # theta < 0
    for p, q, v in ((0, 0, c), (0, 3, 1 - c),
                    (1, 0, -b), (1, 1, x + b), (1, 3, b - y), (1, 4, 1 - a - b),
                    (2, 1, 1 - c), (2, 2, c),
                    (3, 3, x + b), (3, 4, 1 - a - b), (3, 6, -b), (3, 7, b - y),
                    (4, 4, one),
                    (5, 1, b - y), (5, 2, -b), (5, 4, 1 - a - b), (5, 5, x + b),
                    (6, 6, c), (6, 7, 1 - c),
                    (7, 4, 1 - a - b), (7, 5, b - y), (7, 7, x + b), (7, 8, -b),
                    (8, 5, 1 - c), (8, 8, c)):
        neg[:, p, q] = v
    return torch.where((theta >= 0)[:, None, None], pos, neg)


class RoutingFunction(nn.Module):
    """Predicts the kernel weights lambda and angles theta of an adaptive rotated conv::

        h      = ReLU(LN_C(DWConv3x3(x)))            # LayerNorm over channels at each pixel
        g      = GAP(h)                               # (B, C)
        lambda = sigmoid(Linear(Dropout(g)))          # (B, n)
        theta  = softsign(Linear(Dropout(g), no bias)) * proportion (degrees -> radians)

    Args:
        in_channels (int): C.
        kernel_number (int): n. Defaults to 1 (RMSIN).
        dropout (float): Defaults to 0.2.
        proportion (float): Largest angle in degrees. Defaults to 40.
    """

    def __init__(self, in_channels: int, kernel_number: int = 1, dropout: float = 0.2,
                 proportion: float = 40.0) -> None:
        super().__init__()
        self.kernel_number = kernel_number
        self.dwc = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels,
                             bias=False)
        self.norm = nn.LayerNorm(in_channels)
        self.dropout1 = nn.Dropout(dropout)
        self.fc_alpha = nn.Linear(in_channels, kernel_number, bias=True)
        self.dropout2 = nn.Dropout(dropout)
        self.fc_theta = nn.Linear(in_channels, kernel_number, bias=False)
        self.proportion = proportion / 180.0 * math.pi
        trunc_normal_(self.dwc.weight, std=.02)
        trunc_normal_(self.fc_alpha.weight, std=.02)
        trunc_normal_(self.fc_theta.weight, std=.02)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """x (B, C, H, W) -> lambda (B, n), theta (B, n) in radians."""
        h = self.dwc(x).permute(0, 2, 3, 1)
        h = F.relu(self.norm(h)).permute(0, 3, 1, 2)
        g = h.mean(dim=(2, 3))
        alphas = torch.sigmoid(self.fc_alpha(self.dropout1(g)))
        angles = F.softsign(self.fc_theta(self.dropout2(g))) * self.proportion
        return alphas, angles


@MMENGINE_MODELS.register_module()
class AdaptiveRotatedConv2d(nn.Module):
    """3x3 convolution whose n kernels are rotated and weighted per sample (ARC)::

        W'_b = sum_k lambda_{b,k} R(theta_{b,k}) W_k,     y_b = conv2d(x_b, W'_b)

    Usable as ``conv_cfg=dict(type='AdaptiveRotatedConv2d')`` of mmcv's ``ConvModule``.
    ``weight`` has shape (n, C_out, C_in, 3, 3) as in the reference code.

    Args:
        in_channels (int), out_channels (int): Channels.
        kernel_size (int): Must be 3.
        stride (int), padding (int), dilation (int): As ``nn.Conv2d``. Defaults to 1, 1, 1.
        groups (int): Must be 1.
        bias (bool): Must be False (RMSIN's ARCs have none).
        kernel_number (int): n. Defaults to 1.
        dropout (float), proportion (float): Of the :class:`RoutingFunction`.
    """

    transposed = False
    output_padding = (0, 0)

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1,
                 padding=1, dilation=1, groups: int = 1, bias=False, kernel_number: int = 1,
                 dropout: float = 0.2, proportion: float = 40.0) -> None:
        super().__init__()
        kernel_size = kernel_size if isinstance(kernel_size, int) else kernel_size[0]
        if kernel_size != 3 or groups != 1 or bias:
            raise ValueError('AdaptiveRotatedConv2d supports 3x3 kernels, groups=1 and no bias')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = (3, 3)
        self.stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
        self.padding = (padding, padding) if isinstance(padding, int) else tuple(padding)
        self.dilation = (dilation, dilation) if isinstance(dilation, int) else tuple(dilation)
        self.groups = 1
        self.bias = None
        self.kernel_number = kernel_number
        self.weight = nn.Parameter(torch.empty(kernel_number, out_channels, in_channels, 3, 3))
        nn.init.kaiming_normal_(self.weight, mode='fan_out', nonlinearity='relu')
        self.routing = RoutingFunction(in_channels, kernel_number, dropout, proportion)

    def init_weights(self) -> None:
        """Keep the construction-time initialisation (kaiming fan-out, trunc-normal routing);
        ``ConvModule`` would otherwise re-initialise the 5-D weight as a plain conv."""

    def rotated_weights(self, alphas: Tensor, angles: Tensor) -> Tensor:
        """Per-sample kernels (B, C_out, C_in, 3, 3) from lambda, theta (B, n)."""
        B, n = alphas.shape
        rot = rotation_matrix(angles.reshape(-1)).reshape(B, n, 9, 9)
        w = self.weight.reshape(n, self.out_channels * self.in_channels, 9)  # (n, OI, 9)
        rotated = torch.einsum('bnpq,noq->bnop', rot, w)  # (B, n, OI, 9)
        rotated = (rotated * alphas[:, :, None, None]).sum(1)  # (B, OI, 9)
        return rotated.reshape(B, self.out_channels, self.in_channels, 3, 3)

    def forward(self, x: Tensor) -> Tensor:
        """x (B, C_in, H, W) -> (B, C_out, H', W')."""
        alphas, angles = self.routing(x)
        B, C, H, W = x.shape
        weight = self.rotated_weights(alphas, angles).reshape(-1, C, 3, 3)
        out = F.conv2d(x.reshape(1, B * C, H, W), weight.to(x.dtype), None, self.stride,
                       self.padding, self.dilation, groups=B)
        return out.reshape(B, self.out_channels, *out.shape[2:])
