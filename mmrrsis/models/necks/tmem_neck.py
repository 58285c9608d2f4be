# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType
from torch import Tensor

from ..layers import SpatialImageLanguageAttention

#: The official RMSIN / FIANet build CIM and TMEM inside the backbone, whose ``init_weights``
#: gives every ``nn.Linear`` trunc-normal (std 0.02) weights and zero biases (the convolutions
#: keep their own): the default ``init_cfg`` of both necks.
LINEAR_TRUNC_NORMAL_INIT = dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.)


def scale_aware_gate(x: Tensor, g: Tensor, local_embed: nn.Module, global_act: nn.Module,
                     global_embed: nn.Module, align_corners: bool = False) -> Tensor:
    """The scale-aware gate of RMSIN's CIM and FIANet's TMEM for one level::

        out = local(x) * up(hsigmoid(act(g))) + up(embed(g))

    Args:
        x (Tensor): The level (B, C, H, W).
        g (Tensor): Its share of the enhanced global feature (B, C, h, w).
        local_embed, global_act, global_embed (nn.Module): 1x1 Conv-BN each.
        align_corners (bool): Of the bilinear upsampling to (H, W).
    """
    act = F.interpolate(F.relu6(global_act(g) + 3) / 6, size=x.shape[2:], mode='bilinear',
                        align_corners=align_corners)
    feat = F.interpolate(global_embed(g), size=x.shape[2:], mode='bilinear',
                         align_corners=align_corners)
    return local_embed(x) * act + feat


class TMEMBlock(BaseModule):
    """Pre-LN transformer block of TMEM: text cross attention, then an MLP.

    ``t = t + SILA(LN(t), L, m)``; ``t = t + FFN(LN(t))`` with
    ``FFN = Linear(C, r*C) -> GELU -> Dropout -> Linear(r*C, C) -> Dropout``.

    Args:
        channels (int): Token channels C.
        text_channels (int): Text channels C_t.
        mlp_ratio (float): Hidden ratio r of the FFN. Defaults to 2 (480 -> 960 in FIANet).
        dropout (float): FFN dropout. Defaults to 0.
        act_cfg (dict): FFN activation. Defaults to GELU.
        norm_cfg (dict): Token norm. Defaults to LN.
    """

    def __init__(self, channels: int, text_channels: int, mlp_ratio: float = 2.,
                 dropout: float = 0., act_cfg: ConfigType = dict(type='GELU'),
                 norm_cfg: ConfigType = dict(type='LN'), init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        hidden = int(channels * mlp_ratio)
        self.norm1 = build_norm_layer(norm_cfg, channels)[1]
        self.cross_attn = SpatialImageLanguageAttention(channels, text_channels)
        self.norm2 = build_norm_layer(norm_cfg, channels)[1]
        self.ffn = nn.Sequential(
            nn.Linear(channels, hidden), build_activation_layer(act_cfg), nn.Dropout(dropout),
            nn.Linear(hidden, channels), nn.Dropout(dropout))

    def forward(self, x: Tensor, text_feats: Tensor, text_mask: Optional[Tensor]) -> Tensor:
        """x (Tensor): (B, N, C); text (B, L, C_t), mask (B, L) -> (B, N, C)."""
        x = x + self.cross_attn(self.norm1(x), text_feats, text_mask)
        return x + self.ffn(self.norm2(x))


@MODELS.register_module()
class TMEMNeck(BaseModule):
    """Text-aware Multi-scale Enhancement Module (TMEM) of FIANet.

    All levels are average-pooled to the smallest level's size and concatenated
    (``dim = sum(in_channels)``), projected to ``hidden`` channels, refined by K
    :class:`TMEMBlock` s (text cross attention + MLP), normalised and projected back; each
    level then gets a scale-aware gate::

        U_i    = split(Conv1x1(BN(Z)))_i
        out_i' = BN(Conv1x1(out_i)) * up(hsigmoid(BN(Conv1x1(U_i)))) + up(BN(Conv1x1(U_i)))

    Paper: `FIANet <https://arxiv.org/abs/2409.13637>`_
    (``lib/text_aware_multiscale_enhancement.py``; RMSIN's cross-scale module with the
    self-attention replaced by text cross attention). The reference hard-codes Swin-B's split
    [128, 256, 512, 1024]; here it follows ``in_channels``.

    Args:
        in_channels (Sequence[int]): Channels of the input levels.
        text_channels (int): Text channels C_t. Defaults to 768.
        hidden_channels (int, optional): Width of the blocks. Defaults to
            ``sum(in_channels) // 4`` (480 for Swin-B).
        num_blocks (int): K, the number of TMEM blocks (1 for RefSegRS, 3 for RRSIS-D).
            Defaults to 1.
        mlp_ratio (float): FFN ratio of the blocks. Defaults to 2.
        norm_cfg (dict): Norm of the convolutions. Defaults to ``dict(type='BN')``.
        align_corners (bool): Of the upsampling. Defaults to False (reference).
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to
            :data:`LINEAR_TRUNC_NORMAL_INIT` (the official initialisation of its linears).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 text_channels: int = 768,
                 hidden_channels: Optional[int] = None,
                 num_blocks: int = 1,
                 mlp_ratio: float = 2.,
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 align_corners: bool = False,
                 init_cfg: OptConfigType = LINEAR_TRUNC_NORMAL_INIT) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_blocks < 1:
            raise ValueError(f'num_blocks must be >= 1, got {num_blocks}')
        self.in_channels = list(in_channels)
        dim = sum(self.in_channels)
        hidden = hidden_channels or dim // 4
        self.align_corners = align_corners
        self.channel_down = nn.Conv2d(dim, hidden, 1)
        self.blocks = nn.ModuleList(
            [TMEMBlock(hidden, text_channels, mlp_ratio=mlp_ratio) for _ in range(num_blocks)])
        self.norm = build_norm_layer(norm_cfg, hidden)[1]
        self.channel_up = nn.Conv2d(hidden, dim, 1)
        conv = dict(kernel_size=1, norm_cfg=norm_cfg, act_cfg=None)
        self.local_embeds = nn.ModuleList([ConvModule(c, c, **conv) for c in in_channels])
        self.global_acts = nn.ModuleList([ConvModule(c, c, **conv) for c in in_channels])
        self.global_embeds = nn.ModuleList([ConvModule(c, c, **conv) for c in in_channels])

    def forward(self, inputs: Sequence[Tensor], text_feats: Tensor,
                text_mask: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """Enhance every level with the others under the sentence's guidance.

        Args:
            inputs (Sequence[Tensor]): Levels (B, C_i, H_i, W_i), the last the smallest.
            text_feats (Tensor): (B, L, C_t) context text.
            text_mask (Tensor, optional): (B, L), 1 for real tokens.

        Returns:
            tuple[Tensor]: The enhanced levels, shapes unchanged.
        """
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'expected {len(self.in_channels)} levels, got {len(inputs)}')
        size = inputs[-1].shape[2:]
        pooled = torch.cat([F.adaptive_avg_pool2d(x, size) for x in inputs], dim=1)
        z = self.channel_down(pooled)  # (B, hidden, h, w)
        B, C, h, w = z.shape
        tokens = z.flatten(2).transpose(1, 2)  # (B, h*w, hidden)
        for block in self.blocks:
            tokens = block(tokens, text_feats, text_mask)
        z = tokens.transpose(1, 2).reshape(B, C, h, w)
        globals_ = self.channel_up(self.norm(z)).split(self.in_channels, dim=1)
        outs: List[Tensor] = [
            scale_aware_gate(x, g, self.local_embeds[i], self.global_acts[i],
                             self.global_embeds[i], self.align_corners)
            for i, (x, g) in enumerate(zip(inputs, globals_))
        ]
        return tuple(outs)
