# Copyright (c) mmrrsis contributors. All rights reserved.
"""RMSIN's Cross-scale Interaction Module (CIM) as a neck."""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType
from torch import Tensor

from ..layers.attention import sdpa
from .tmem_neck import LINEAR_TRUNC_NORMAL_INIT, scale_aware_gate


class CIMFeedForward(nn.Module):
    """``Conv1x1(ReLU6(DWConv3x3(BN(Conv1x1(BN(x))))))`` with ``hidden`` channels; the 3x3 conv
    has ``dim`` groups (two channels each for hidden = 2 dim). One non-linearity."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(dim)
        self.conv1 = nn.Conv2d(dim, hidden, 1)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.conv2 = nn.Conv2d(hidden, hidden, 3, padding=1, groups=dim)
        self.conv3 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv3(F.relu6(self.conv2(self.bn2(self.conv1(self.bn1(x))))))


class IntraScaleFeedForward(nn.Module):
    """Per channel group ``x_k + FF_k(x_k)`` (the groups mirror the pyramid's widths), concatenated.
    The block adds its input again: ``x + cat_k(x_k + FF_k(x_k))``, as the reference does."""

    def __init__(self, channels: Sequence[int], mlp_ratio: int = 2) -> None:
        super().__init__()
        self.channels = list(channels)
        self.ffs = nn.ModuleList(CIMFeedForward(c, c * mlp_ratio) for c in self.channels)

    def forward(self, x: Tensor) -> Tensor:
        parts = x.split(self.channels, dim=1)
        return torch.cat([p + ff(p) for p, ff in zip(parts, self.ffs)], dim=1)


class CrossScaleAttention(nn.Module):
    """Attention over the grid's tokens plus two strided depth-wise summaries of it.

    ::

        x0 = BN(x);  x1 = BN(DW3x3/2(x0));  x2 = BN(DW5x5/3(x0))
        T  = tokens(x0) ++ tokens(x1) ++ tokens(x2)                     (B, N, C)
        q, k, v per head from BN1d(Linear(T)), laid out head-major [q k v] per head
        V0 = the first N0 = H*W value tokens, memory reinterpreted as (B, h*d, H, W)
        X  = Linear_N->N0((softmax(q k^T / sqrt(d_k)) v) reinterpreted as (B, h*d, N))
             + DWConv3x3(Hardswish(V0))
        out = Conv1x1(Hardswish(BN(to_out(X^T) as (B, C, H, W))))

    The two reinterpretations (``reshape`` of a permuted tensor, not a transpose) are the
    reference's memory order; trained weights only fit it. The token-axis projection fixes the
    grid (H, W).
    """

    attn_impl = 'eager'  # or 'sdpa' (see mmrrsis.models.layers.set_attn_impl)

    def __init__(self, dim: int, grid: Tuple[int, int], key_dim: int = 32, num_heads: int = 8,
                 attn_ratio: int = 2) -> None:
        super().__init__()
        H, W = grid
        self.grid = (H, W)
        self.num_heads, self.key_dim = num_heads, key_dim
        self.d = attn_ratio * key_dim
        self.dh = self.d * num_heads
        self.bn1 = nn.BatchNorm2d(dim)
        self.dwconv1 = nn.Sequential(nn.Conv2d(dim, dim, 3, 2, 1, groups=dim), nn.BatchNorm2d(dim))
        self.dwconv2 = nn.Sequential(nn.Conv2d(dim, dim, 5, 3, 2, groups=dim), nn.BatchNorm2d(dim))
        n1 = ((H + 2 - 3) // 2 + 1) * ((W + 2 - 3) // 2 + 1)
        n2 = ((H + 4 - 5) // 3 + 1) * ((W + 4 - 5) // 3 + 1)
        self.num_tokens = H * W + n1 + n2
        self.qkv = nn.Linear(dim, self.dh + 2 * key_dim * num_heads, bias=False)
        self.qkv_bn = nn.BatchNorm1d(self.dh + 2 * key_dim * num_heads)
        self.parallel_conv = nn.Conv2d(self.dh, self.dh, 3, padding=1, groups=self.dh)
        self.proj = nn.Linear(self.num_tokens, H * W)
        self.to_out = nn.Linear(self.dh, dim)
        self.bn4 = nn.BatchNorm2d(dim)
        self.conv = nn.Conv2d(dim, dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        """x (B, C, H, W) -> (B, C, H, W)."""
        B, C, H, W = x.shape
        if (H, W) != self.grid:
            raise ValueError(f'CrossScaleAttention was built for a {self.grid} grid, got '
                             f'{(H, W)}')
        x0 = self.bn1(x)
        tokens = torch.cat([x0.flatten(2), self.dwconv1(x0).flatten(2),
                            self.dwconv2(x0).flatten(2)], dim=2).transpose(1, 2)  # (B, N, C)
        N, N0, h = tokens.shape[1], H * W, self.num_heads
        qkv = self.qkv_bn(self.qkv(tokens).flatten(0, 1)).reshape(B, N, h, -1)
        q, k, v = qkv.split([self.key_dim, self.key_dim, self.d], dim=3)
        q, k, v = (t.permute(0, 2, 1, 3) for t in (q, k, v))  # (B, h, N, *)
        v0 = v[:, :, :N0].reshape(B, self.dh, H, W)  # memory reinterpretation
        v_conv = self.parallel_conv(F.hardswish(v0)).flatten(2)  # (B, dh, N0)
        if self.attn_impl == 'sdpa':
            out = sdpa(q, k, v, scale=self.key_dim**-0.5)
        else:
            attn = torch.softmax(q @ k.transpose(-2, -1) * self.key_dim**-0.5, dim=-1)
            out = attn @ v  # (B, h, N, d)
        out = out.transpose(1, 2).reshape(B, -1, N)  # (B, dh, N), reinterpretation
        out = self.proj(out) + v_conv  # (B, dh, N0)
        out = self.to_out(out.permute(0, 2, 1)).permute(0, 2, 1).reshape(B, C, H, W)
        return self.conv(F.hardswish(self.bn4(out)))


class CIMBlock(nn.Module):
    """``x += CSA1(x); x += IntraFF(x); x += CSA2(x); x += FF(x)``."""

    def __init__(self, dim: int, channels: Sequence[int], grid: Tuple[int, int],
                 key_dim: int = 32, num_heads: int = 8, mlp_ratio: int = 2) -> None:
        super().__init__()
        self.csa1 = CrossScaleAttention(dim, grid, key_dim, num_heads)
        self.intra_ff = IntraScaleFeedForward(channels, mlp_ratio)
        self.csa2 = CrossScaleAttention(dim, grid, key_dim, num_heads)
        self.ff = CIMFeedForward(dim, dim * mlp_ratio)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.csa1(x)
        x = x + self.intra_ff(x)
        x = x + self.csa2(x)
        return x + self.ff(x)


@MODELS.register_module()
class CIMNeck(BaseModule):
    """Cross-scale Interaction Module of RMSIN.

    Every level is average-pooled to ``grid`` and concatenated (``dim = sum(in_channels)``),
    projected to ``hidden = dim // 4`` channels, refined by :class:`CIMBlock` s (cross-scale
    attention, per-scale and joint feed-forward), normalised and projected back to ``dim``;
    each level then gets the scale-aware gate shared with FIANet's TMEM::

        out_i = BN(Conv1x1(F_i)) * up(hsigmoid(BN(Conv1x1(U_i)))) + up(BN(Conv1x1(U_i)))

    The outputs replace the levels (no outer residual). Every width follows ``in_channels``
    (Swin-B: 1920 pooled, 480 hidden, groups 32/64/128/256).

    Paper: `RMSIN <https://arxiv.org/abs/2312.12470>`_ (``lib/cross_scale_interaction.py``).
    The reference pools to the last level's size and hard-codes 15x15 (a 480x480 input with
    Swin); here the pooled grid is ``grid`` whatever the input size, which equals the reference
    at 480x480 and lets other sizes run (their CIM sees a 15x15 summary; not in the paper).

    Args:
        in_channels (Sequence[int]): Channels of the levels, finest first.
        grid (tuple[int, int]): The pooled grid. Defaults to (15, 15).
        num_blocks (int): CIM blocks. Defaults to 1.
        key_dim (int), num_heads (int): Of the cross-scale attention. Defaults to 32, 8.
        mlp_ratio (int): Of the feed-forwards. Defaults to 2.
        norm_cfg (dict): Norm of the gates' convolutions. Defaults to BN.
        align_corners (bool): Of the gates' upsampling. Defaults to False (reference).
        init_cfg (dict, optional): Initialization config. Defaults to
            ``LINEAR_TRUNC_NORMAL_INIT`` (the official initialisation of its linears).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 grid: Tuple[int, int] = (15, 15),
                 num_blocks: int = 1,
                 key_dim: int = 32,
                 num_heads: int = 8,
                 mlp_ratio: int = 2,
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 align_corners: bool = False,
                 init_cfg: OptConfigType = LINEAR_TRUNC_NORMAL_INIT) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = list(in_channels)
        dim = sum(self.in_channels)
        if dim % 4 or any(c % 4 for c in self.in_channels):
            raise ValueError(f'CIMNeck splits every width by 4: in_channels {in_channels}')
        hidden = dim // 4
        self.grid = tuple(grid)
        self.align_corners = align_corners
        self.channel_down = nn.Conv2d(dim, hidden, 1)
        self.blocks = nn.ModuleList(
            CIMBlock(hidden, [c // 4 for c in self.in_channels], self.grid, key_dim, num_heads,
                     mlp_ratio) for _ in range(num_blocks))
        self.norm = nn.BatchNorm2d(hidden)
        self.channel_up = nn.Conv2d(hidden, dim, 1)
        conv = dict(kernel_size=1, norm_cfg=norm_cfg, act_cfg=None)
        self.local_embeds = nn.ModuleList([ConvModule(c, c, **conv) for c in in_channels])
        self.global_acts = nn.ModuleList([ConvModule(c, c, **conv) for c in in_channels])
        self.global_embeds = nn.ModuleList([ConvModule(c, c, **conv) for c in in_channels])

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Levels (B, C_i, H_i, W_i), finest first -> the same shapes."""
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'expected {len(self.in_channels)} levels, got {len(inputs)}')
        pooled = torch.cat([F.adaptive_avg_pool2d(x, self.grid) for x in inputs], dim=1)
        z = self.channel_down(pooled)
        for block in self.blocks:
            z = block(z)
        globals_ = self.channel_up(self.norm(z)).split(self.in_channels, dim=1)
        outs: List[Tensor] = [
            scale_aware_gate(x, g, self.local_embeds[i], self.global_acts[i],
                             self.global_embeds[i], self.align_corners)
            for i, (x, g) in enumerate(zip(inputs, globals_))
        ]
        return tuple(outs)
