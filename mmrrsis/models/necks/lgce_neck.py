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


class _ViTBlock(BaseModule):
    """timm's ViT ``Block`` (the layout the RRSECS port stacks): ``x + proj(MHA(LN(x)))`` with
    one ``qkv`` linear (bias switchable), then ``x + fc2(GELU(fc1(LN(x))))``."""

    def __init__(self, channels: int, num_heads: int, mlp_ratio: float, qkv_bias: bool,
                 act_cfg: ConfigType, norm_cfg: ConfigType) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.norm1 = build_norm_layer(norm_cfg, channels)[1]
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(channels, 3 * channels, bias=qkv_bias)
        self.attn.proj = nn.Linear(channels, channels)
        self.norm2 = build_norm_layer(norm_cfg, channels)[1]
        self.mlp = nn.Module()
        hidden = int(channels * mlp_ratio)
        self.mlp.fc1 = nn.Linear(channels, hidden)
        self.mlp.act = build_activation_layer(act_cfg)
        self.mlp.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: Tensor) -> Tensor:
        """x (Tensor): (B, N, C) -> (B, N, C)."""
        B, N, C = x.shape
        qkv = self.attn.qkv(self.norm1(x)).reshape(B, N, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # (B, h, N, d) each
        attn = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        x = x + self.attn.proj(attn.transpose(1, 2).reshape(B, N, C))
        return x + self.mlp.fc2(self.mlp.act(self.mlp.fc1(self.norm2(x))))


def _pair(value, name: str) -> Tuple:
    """An int / float for both levels, or a (shallow, deep) pair."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f'{name} must be one value or a (shallow, deep) pair, got {value}')
        return tuple(value)
    return value, value


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
    Two variants (``variant``):

    - ``'effective'`` (default): as above; the cross-scale fusion reaches the pixels because it
      runs before the self-attention layers. Deviations from the port: the sentence mean
      ignores padding (``masked_mean``), ``nn.MultiheadAttention`` layers with qkv bias.
    - ``'port'``: the computation of the RRSECS port (``rsfm/decoder/ris/lgce``) as it reaches
      the output: guide = plain mean of all L word features (padding included) through one
      linear per level; ``[g; F]`` through timm ViT blocks per level (port values: stage 3 one
      block, 8 heads; stage 4 three blocks, 16 heads; MLP ratio 2; no qkv bias:
      ``num_heads=(8, 16), depth=(1, 3), mlp_ratio=2, qkv_bias=False``), pixels kept. The port
      then runs a CrossViT fusion that writes only the guide token, which its head drops: that
      fusion (about 7.35M parameters for Swin-B, never given a gradient there) is not built.

    Args:
        in_channels (Sequence[int]): Channels of all input levels.
        text_channels (int): Text channels C_t. Defaults to 768.
        stage_pair (tuple[int, int]): 0-based (shallow, deep) levels to enhance. Defaults to
            (2, 3), i.e. Swin stages 3 and 4. (0, 3) is the literal "shallow and deep" pair;
            its attention over stage 1's tokens is quadratic in H/4 * W/4.
        num_heads (int | tuple[int, int]): Heads of every attention, or (shallow, deep).
            Defaults to 8.
        mlp_ratio (float): MLP ratio of the self-attention layers. Defaults to 4.
        depth (int | tuple[int, int]): Self-attention layers per level, or (shallow, deep).
            Defaults to 1.
        masked_mean (bool, optional): Average only real tokens for the sentence feature
            (False: the port's plain mean over all L positions). Defaults to None: True for
            ``'effective'``, False for ``'port'``.
        variant (str): ``'effective'`` or ``'port'`` (above). Defaults to ``'effective'``.
        qkv_bias (bool): Bias of the ``'port'`` blocks' qkv projection. Defaults to False.
        act_cfg (dict): Activation. Defaults to GELU.
        norm_cfg (dict): Token norm. Defaults to LN.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 text_channels: int = 768,
                 stage_pair: Tuple[int, int] = (2, 3),
                 num_heads=8,
                 mlp_ratio: float = 4.,
                 depth=1,
                 masked_mean: Optional[bool] = None,
                 variant: str = 'effective',
                 qkv_bias: bool = False,
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
        if variant not in ('effective', 'port'):
            raise ValueError(f"variant must be 'effective' or 'port', got {variant!r}")
        self.variant = variant
        self.masked_mean = (variant == 'effective') if masked_mean is None else masked_mean
        c_a, c_b = self.in_channels[a], self.in_channels[b]
        heads_a, heads_b = _pair(num_heads, 'num_heads')
        depth_a, depth_b = _pair(depth, 'depth')
        for c, h in ((c_a, heads_a), (c_b, heads_b)):
            if c % h:
                raise ValueError(f'channels {c} of stage_pair are not divisible by '
                                 f'num_heads={h}')
        layer = dict(act_cfg=act_cfg, norm_cfg=norm_cfg)
        self.guide_shallow = nn.Linear(text_channels, c_a)
        self.guide_deep = nn.Linear(text_channels, c_b)
        if variant == 'port':
            self.layers_shallow = nn.ModuleList([
                _ViTBlock(c_a, heads_a, mlp_ratio, qkv_bias, **layer) for _ in range(depth_a)])
            self.layers_deep = nn.ModuleList([
                _ViTBlock(c_b, heads_b, mlp_ratio, qkv_bias, **layer) for _ in range(depth_b)])
            return
        if heads_a != heads_b:
            raise ValueError("variant 'effective' attends across the levels with one head "
                             f'count; got num_heads={num_heads}')
        self.cross_shallow = _GuideCrossAttention(c_a, c_b, heads_a, **layer)
        self.cross_deep = _GuideCrossAttention(c_b, c_a, heads_a, **layer)
        self.layers_shallow = nn.ModuleList(
            [_SelfAttentionLayer(c_a, heads_a, mlp_ratio, **layer) for _ in range(depth_a)])
        self.layers_deep = nn.ModuleList(
            [_SelfAttentionLayer(c_b, heads_b, mlp_ratio, **layer) for _ in range(depth_b)])

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
        if self.variant == 'effective':
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
