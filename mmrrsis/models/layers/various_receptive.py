# Copyright (c) mmrrsis contributors. All rights reserved.
"""The visual branch of RMSIN's intra-scale interaction (its "Various Receptive" block)."""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


class _ConvBN(nn.Sequential):
    """1 -> 1 channel conv (no bias) + BatchNorm2d(1), names ``conv`` and ``bn``."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)


class _ConvBNConvBN(nn.Module):
    """Sequential 1x1 conv - BN - 3x3 conv - BN on one channel (``conv1 bn1 conv2 bn2``)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(1)
        self.conv2 = nn.Conv2d(1, 1, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn2(self.conv2(self.bn1(self.conv1(x))))


class _RepBlock(nn.Module):
    """Two RepVGG-style steps on the one-channel mean map: each is the sum of a 1x1 conv-BN, a
    1x1-3x3 conv-BN stack and a BN identity; ReLU after the first, sigmoid after the second."""

    def __init__(self) -> None:
        super().__init__()
        self.brb_3x3, self.brb_1x1, self.brb_identity = _ConvBNConvBN(), _ConvBN(1), \
            nn.BatchNorm2d(1)
        self.brb_3x3_2, self.brb_1x1_2, self.brb_identity_2 = _ConvBNConvBN(), _ConvBN(1), \
            nn.BatchNorm2d(1)

    def forward(self, m: Tensor) -> Tensor:
        o = F.relu(self.brb_1x1(m) + self.brb_3x3(m) + self.brb_identity(m))
        return torch.sigmoid(self.brb_1x1_2(o) + self.brb_3x3_2(o) + self.brb_identity_2(o))


class VariousReceptive(nn.Module):
    """RMSIN's visual branch: a spatial gate from the channel mean, ``v = X * g(mean_c(X))``.

    ``g`` is :class:`_RepBlock` (two RepVGG-style steps of 1x1 and 1x1-3x3 convolutions on one
    channel, 38 parameters). The reference assumes a square grid; here the grid shape is given.

    Paper: `RMSIN <https://arxiv.org/abs/2312.12470>`_ (``lib/various_receptive.py``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.repblock = _RepBlock()

    def forward(self, x: Tensor, hw_shape: Tuple[int, int]) -> Tensor:
        """x (B, N, C) tokens on an (H, W) grid -> (B, N, C)."""
        B, N, C = x.shape
        x_map = x.transpose(1, 2).reshape(B, C, *hw_shape)
        gate = self.repblock(x_map.mean(dim=1, keepdim=True))  # (B, 1, H, W)
        return (x_map * gate).flatten(2).transpose(1, 2)
