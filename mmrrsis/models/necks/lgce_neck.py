# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType
from torch import Tensor

from ..layers import masked_mean


class _SelfAttentionLayer(BaseModule):
    """Pre-LN transformer layer: ``x + MHA(LN(x))``, then ``x + MLP(LN(x))``."""

    def __init__(self, channels: int, num_heads: int, mlp_ratio: float,
                 act_cfg: ConfigType, norm_cfg: ConfigType) -> None:
        super().__init__()
        self.norm1 = build_norm_layer(norm_cfg, channels)[1]
        self.attn = nn.MultiheadAttention(channels, num_heads, batch_first=True)
        self.norm2 = build_norm_layer(norm_cfg, channels)[1]
        hidden = int(channels * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden), build_activation_layer(act_cfg),
            nn.Linear(hidden, channels))

    def forward(self, x: Tensor) -> Tensor:
        """x (Tensor): (B, N, C) -> (B, N, C)."""
        y = self.norm1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class _GuideCrossAttention(BaseModule):
    """CrossViT-style fusion: the guide token of one scale attends to the other scale.

    ``q = P(g)``, ``k, v = [P(g); F_other]`` (in the other scale's width),
    ``g' = g + P_back(MHA(q, k, v))``, with ``P = Linear(GELU(LN(.)))`` projections.
    """

    def __init__(self, channels: int, other_channels: int, num_heads: int,
                 act_cfg: ConfigType, norm_cfg: ConfigType) -> None:
        super().__init__()
        self.proj = nn.Sequential(
            build_norm_layer(norm_cfg, channels)[1], build_activation_layer(act_cfg),
            nn.Linear(channels, other_channels))
        self.attn = nn.MultiheadAttention(other_channels, num_heads, batch_first=True)
        self.revert = nn.Sequential(
            build_norm_layer(norm_cfg, other_channels)[1], build_activation_layer(act_cfg),
            nn.Linear(other_channels, channels))

    def forward(self, guide: Tensor, other: Tensor) -> Tensor:
        """guide (B, 1, C), other scale's pixel tokens (B, N', C') -> new guide (B, 1, C)."""
        query = self.proj(guide)  # (B, 1, C')
        keys = torch.cat([query, other], dim=1)
        fused = self.attn(query, keys, keys, need_weights=False)[0]
        return guide + self.revert(fused)


@MODELS.register_module()
class LGCENeck(BaseModule):
    """Language-Guided Cross-scale Enhancement (LGCE) as a neck (interpretation).

    For the (shallow a, deep b) levels of ``stage_pair``:

    1. sentence feature ``s`` = masked mean of the words; guide tokens ``g_a = W_a s``,
       ``g_b = W_b s`` in each level's width;
    2. cross-scale fusion: each guide token attends (CrossViT-style) to the other level's
       pixels and carries that back to its own width;
    3. ``depth`` self-attention transformer layers on ``[g_a'; F_a]`` and on ``[g_b'; F_b]``
       spread the language- and cross-scale-aware guide into the pixels;
    4. the enhanced pixel tokens replace F_a and F_b (guide tokens dropped); other levels pass
       through unchanged.

    Paper: `RRSIS: Referring Remote Sensing Image Segmentation
    <https://arxiv.org/abs/2306.08625>`_ (Yuan et al., TGRS 2024). The paper's module code is
    not public; this design follows a third-party ``LGCEHead`` (CrossViT over Swin-B stages 3
    and 4 with sentence guide tokens) and is documented in ``configs/lgce/README.md``.
    Deviations from that realisation: the sentence mean ignores padding (``masked_mean``) and
    the self-attention layers are explicit.

    Args:
        in_channels (Sequence[int]): Channels of all input levels.
        text_channels (int): Text channels C_t. Defaults to 768.
        stage_pair (tuple[int, int]): 0-based (shallow, deep) levels to enhance. Defaults to
            (2, 3), i.e. Swin stages 3 and 4. (0, 3) is the literal "shallow and deep" pair;
            its attention over stage 1's tokens is quadratic in H/4 * W/4.
        num_heads (int): Heads of every attention. Defaults to 8.
        mlp_ratio (float): MLP ratio of the self-attention layers. Defaults to 4.
        depth (int): Self-attention layers per level. Defaults to 1.
        masked_mean (bool): Average only real tokens for the sentence feature (False: the
            third-party plain mean over all L positions). Defaults to True.
        act_cfg (dict): Activation. Defaults to GELU.
        norm_cfg (dict): Token norm. Defaults to LN.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 text_channels: int = 768,
                 stage_pair: Tuple[int, int] = (2, 3),
                 num_heads: int = 8,
                 mlp_ratio: float = 4.,
                 depth: int = 1,
                 masked_mean: bool = True,
                 act_cfg: ConfigType = dict(type='GELU'),
                 norm_cfg: ConfigType = dict(type='LN'),
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = list(in_channels)
        a, b = stage_pair
        if not 0 <= a < b < len(self.in_channels):
            raise ValueError(f'stage_pair {stage_pair} must be (shallow, deep) indices with '
                             f'0 <= shallow < deep < {len(self.in_channels)}')
        self.stage_pair = (a, b)
        self.masked_mean = masked_mean
        c_a, c_b = self.in_channels[a], self.in_channels[b]
        for c in (c_a, c_b):
            if c % num_heads:
                raise ValueError(f'channels {c} of stage_pair are not divisible by '
                                 f'num_heads={num_heads}')
        layer = dict(act_cfg=act_cfg, norm_cfg=norm_cfg)
        self.guide_shallow = nn.Linear(text_channels, c_a)
        self.guide_deep = nn.Linear(text_channels, c_b)
        self.cross_shallow = _GuideCrossAttention(c_a, c_b, num_heads, **layer)
        self.cross_deep = _GuideCrossAttention(c_b, c_a, num_heads, **layer)
        self.layers_shallow = nn.ModuleList(
            [_SelfAttentionLayer(c_a, num_heads, mlp_ratio, **layer) for _ in range(depth)])
        self.layers_deep = nn.ModuleList(
            [_SelfAttentionLayer(c_b, num_heads, mlp_ratio, **layer) for _ in range(depth)])

    def forward(self, inputs: Sequence[Tensor], text_feats: Tensor,
                text_mask: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """Enhance the pair of levels under the sentence's guidance.

        Args:
            inputs (Sequence[Tensor]): Levels (B, C_i, H_i, W_i).
            text_feats (Tensor): (B, L, C_t).
            text_mask (Tensor, optional): (B, L), 1 for real tokens.

        Returns:
            tuple[Tensor]: All levels, shapes unchanged; the pair enhanced.
        """
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'expected {len(self.in_channels)} levels, got {len(inputs)}')
        a, b = self.stage_pair
        sentence = masked_mean(text_feats, text_mask if self.masked_mean else None)  # (B, C_t)
        feat_a, feat_b = inputs[a], inputs[b]
        tokens_a = feat_a.flatten(2).transpose(1, 2)  # (B, N_a, C_a)
        tokens_b = feat_b.flatten(2).transpose(1, 2)  # (B, N_b, C_b)
        guide_a = self.guide_shallow(sentence).unsqueeze(1)  # (B, 1, C_a)
        guide_b = self.guide_deep(sentence).unsqueeze(1)  # (B, 1, C_b)
        guide_a, guide_b = (self.cross_shallow(guide_a, tokens_b),
                            self.cross_deep(guide_b, tokens_a))
        z_a = torch.cat([guide_a, tokens_a], dim=1)
        z_b = torch.cat([guide_b, tokens_b], dim=1)
        for layer in self.layers_shallow:
            z_a = layer(z_a)
        for layer in self.layers_deep:
            z_b = layer(z_b)
        outs: List[Tensor] = list(inputs)
        outs[a] = z_a[:, 1:].transpose(1, 2).reshape(feat_a.shape)
        outs[b] = z_b[:, 1:].transpose(1, 2).reshape(feat_b.shape)
        return tuple(outs)
