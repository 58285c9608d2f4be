# Copyright (c) mmrrsis contributors. All rights reserved.
"""FIANet's fine-grained alignment pieces (``OPAB`` and the channel modulation of
``MMBasicLayer`` in Shaosifan/FIANet ``lib/backbone.py``)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import OptConfigType
from torch import Tensor

from .language_gate import LanguageGate
from .pwam import SpatialImageLanguageAttention


@MODELS.register_module()
class ObjectPositionAlignment(BaseModule):
    """Object-Position Alignment Block (OPAB) of FIANet.

    ``G = Gate(SILA_go(X, L_g, m_g))`` (ground-object branch, the gated SILA output),
    ``S = SILA_sp(X, L_s, m_s)``, ``A = sigmoid(Conv3x3([mean_C S; max_C S]))`` (a spatial
    map from the position text), output ``G * A``.

    A sample whose object mask is all zero (no category named) gets an output of exactly 0.
    The reference reaches (almost) the same through its zeroed keys/values and instance norm;
    here the branch is multiplied by ``any(m_g)`` so that the zero is exact.

    Paper: `FIANet <https://arxiv.org/abs/2409.13637>`_. The reference's unused
    ``go_embedding`` linear layer is not built.

    Args:
        channels (int): Visual channels C.
        text_channels (int): Text channels C_t. Defaults to 768.
        kernel_size (int): Kernel of the spatial-map convolution. Defaults to 3.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.
    """

    def __init__(self, channels: int, text_channels: int = 768, kernel_size: int = 3,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.object_att = SpatialImageLanguageAttention(channels, text_channels)
        self.object_gate = LanguageGate(channels)
        self.position_att = SpatialImageLanguageAttention(channels, text_channels)
        self.spatial_conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: Tensor, hw_shape: Tuple[int, int], object_feats: Tensor,
                object_mask: Tensor, position_feats: Tensor,
                position_mask: Optional[Tensor]) -> Tensor:
        """Align the pixels with the object and position texts.

        Args:
            x (Tensor): Visual tokens (B, N, C), N = H * W.
            hw_shape (tuple[int, int]): (H, W).
            object_feats (Tensor): (B, L, C_t) ground-object text features.
            object_mask (Tensor): (B, L), 1 for the object's word pieces.
            position_feats (Tensor): (B, L, C_t) spatial-position text features.
            position_mask (Tensor): (B, L), 1 for the position phrase's word pieces.

        Returns:
            Tensor: (B, N, C), ``G * A``.
        """
        obj = self.object_att(x, object_feats, object_mask)  # (B, N, C)
        has_object = object_mask.reshape(object_mask.shape[0], -1).any(dim=1)
        obj = obj * has_object.to(obj.dtype)[:, None, None]
        obj = self.object_gate(obj)
        pos = self.position_att(x, position_feats, position_mask)  # (B, N, C)
        B, N, _ = pos.shape
        pooled = torch.stack([pos.mean(dim=2), pos.amax(dim=2)], dim=1)  # (B, 2, N)
        attn = torch.sigmoid(self.spatial_conv(pooled.reshape(B, 2, *hw_shape)))  # (B,1,H,W)
        return obj * attn.reshape(B, N, 1)


@MODELS.register_module()
class ChannelModulation(BaseModule):
    """Squeeze-and-excitation style channel weights of FIANet's FIAM.

    ``w = sigmoid(FC_{C/r -> C}(ReLU(FC_{C -> C/r}(mean_N X))))``.

    Args:
        channels (int): Channels C.
        ratio (int): Reduction r. Defaults to 8.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.
    """

    def __init__(self, channels: int, ratio: int = 8, init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        hidden = max(channels // ratio, 1)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels),
            nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        """x (Tensor): (B, N, C) -> weights (B, 1, C)."""
        return self.fc(x.mean(dim=1)).unsqueeze(1)
