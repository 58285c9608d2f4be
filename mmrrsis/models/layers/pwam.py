# Copyright (c) mmrrsis contributors. All rights reserved.
"""Pixel-word attention of LAVT and its building block (shared by LAVT, FIANet, BTDNet).

Submodule names follow LAVT's ``lib/backbone.py`` (``vis_project``, ``image_lang_att``,
``project_mm``; ``f_query``, ``f_key``, ``f_value``, ``W``) so that released LAVT-family
checkpoints convert by renaming their prefixes only.
"""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType
from .attention import sdpa
from .position_encoding import coordinate_features
from .text_mask import LAVT_MASK_VALUE, normalize_text_mask, text_mask_to_bias


def _to_channels_first(x: Tensor) -> Tuple[Tensor, Optional[Tuple[int, int]]]:
    """(B, N, C) -> (B, C, N) or (B, C, H, W) -> (B, C, H*W); also return (H, W) for maps."""
    if x.dim() == 4:
        return x.flatten(2), tuple(x.shape[2:])
    if x.dim() == 3:
        return x.transpose(1, 2), None
    raise ValueError(f'expected visual features (B, N, C) or (B, C, H, W), got {tuple(x.shape)}')


def _from_channels_first(x: Tensor, hw_shape: Optional[Tuple[int, int]]) -> Tensor:
    """Inverse of :func:`_to_channels_first`."""
    if hw_shape is not None:
        return x.reshape(*x.shape[:2], *hw_shape)
    return x.transpose(1, 2)


@MODELS.register_module()
class SpatialImageLanguageAttention(BaseModule):
    """Pixel-word cross attention of LAVT (SILA): every pixel attends to the words.

    ``Q = IN(Conv1x1(V))``, ``K = Conv1x1(L) * m``, ``Vl = Conv1x1(L) * m``,
    ``A = softmax_L(Q K^T * scale + 1e4 * (m - 1))``, ``out = IN(Conv1x1(A Vl))``, where IN is an
    instance norm without affine parameters over the pixels of each channel.

    Paper: `LAVT <https://arxiv.org/abs/2112.02244>`_ (``SpatialImageLanguageAttention`` in
    yz93/LAVT-RIS). FIANet uses it alone for its object and position branches, FIANet's TMEM
    as the text cross attention of its transformer blocks.

    Args:
        v_in_channels (int): Channels of the visual features.
        l_in_channels (int): Channels of the text features C_t. Defaults to 768.
        key_channels (int, optional): Query/key channels. Defaults to ``v_in_channels``.
        value_channels (int, optional): Value channels. Defaults to ``key_channels``.
        out_channels (int, optional): Output channels. Defaults to ``value_channels``.
        num_heads (int): Attention heads. Defaults to 1 (LAVT).
        qk_scale (float, optional): Logit scale. Defaults to ``key_channels ** -0.5``: as in
            LAVT the full key width is used even with several heads.
        query_norm (bool): Instance-normalise the queries. Defaults to True.
        out_norm (bool): Instance-normalise the output. Defaults to True.
        mask_value (float): Bias magnitude on padding words. Defaults to 1e4.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.

    Attributes:
        attn_impl (str): ``'eager'`` (the matrix products above, LAVT's order of operations)
            or ``'sdpa'`` (``A Vl`` through ``scaled_dot_product_attention`` with the padding
            bias as an additive mask; used when neither weights nor logits are returned). Set
            it with :func:`~mmrrsis.models.layers.set_attn_impl`. Defaults to ``'eager'``.
    """

    attn_impl = 'eager'

    def __init__(self,
                 v_in_channels: int,
                 l_in_channels: int = 768,
                 key_channels: Optional[int] = None,
                 value_channels: Optional[int] = None,
                 out_channels: Optional[int] = None,
                 num_heads: int = 1,
                 qk_scale: Optional[float] = None,
                 query_norm: bool = True,
                 out_norm: bool = True,
                 mask_value: float = LAVT_MASK_VALUE,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        key_channels = key_channels or v_in_channels
        value_channels = value_channels or key_channels
        out_channels = out_channels or value_channels
        if key_channels % num_heads or value_channels % num_heads:
            raise ValueError(f'key_channels ({key_channels}) and value_channels '
                             f'({value_channels}) must be divisible by num_heads ({num_heads}).')
        self.v_in_channels = v_in_channels
        self.l_in_channels = l_in_channels
        self.key_channels = key_channels
        self.value_channels = value_channels
        self.out_channels = out_channels
        self.num_heads = num_heads
        self.scale = qk_scale if qk_scale is not None else key_channels**-0.5
        self.mask_value = mask_value

        # No normalisation on the text side: a sentence holds many zeroed padding words.
        self.f_key = nn.Sequential(nn.Conv1d(l_in_channels, key_channels, kernel_size=1))
        self.f_query = nn.Sequential(
            nn.Conv1d(v_in_channels, key_channels, kernel_size=1),
            nn.InstanceNorm1d(key_channels) if query_norm else nn.Identity())
        self.f_value = nn.Sequential(nn.Conv1d(l_in_channels, value_channels, kernel_size=1))
        self.W = nn.Sequential(
            nn.Conv1d(value_channels, out_channels, kernel_size=1),
            nn.InstanceNorm1d(out_channels) if out_norm else nn.Identity())

    def text_keys_values(self, text_feats: Tensor,
                         text_mask: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        """Keys (B, h, d, L) and values (B, h, d_v, L) of the words (padding zeroed) and the
        normalised mask (B, L)."""
        text_mask = normalize_text_mask(text_mask, text_feats)  # (B, L)
        text = text_feats.transpose(1, 2)  # (B, C_t, L)
        B, L, h = text.shape[0], text.shape[2], self.num_heads
        mask = text_mask.unsqueeze(1)  # (B, 1, L)
        key = self.f_key(text) * mask  # (B, C_k, L), padding words zeroed
        value = self.f_value(text) * mask  # (B, C_v', L)
        key = key.reshape(B, h, self.key_channels // h, L)
        value = value.reshape(B, h, self.value_channels // h, L)
        return key, value, text_mask

    def logits(self, query: Tensor, key: Tensor, text_mask: Tensor) -> Tensor:
        """Scaled correlation plus the padding bias: query (B, C_k, N), key (B, h, d, L) ->
        (B, h, N, L)."""
        B, N, h = query.shape[0], query.shape[2], self.num_heads
        query = query.reshape(B, h, self.key_channels // h, N).transpose(2, 3)  # (B, h, N, d)
        attn = torch.matmul(query, key) * self.scale  # (B, h, N, L)
        return attn + text_mask_to_bias(text_mask, self.mask_value)[:, None, None, :]

    def aggregate(self, attn: Tensor, value: Tensor) -> Tensor:
        """Attention weights (B, h, N, L) and values (B, h, d_v, L) -> W(A V) (B, C_out, N)."""
        B, N = attn.shape[0], attn.shape[2]
        out = torch.matmul(value, attn.transpose(2, 3))  # (B, h, d_v, N)
        return self.W(out.reshape(B, self.value_channels, N))  # (B, C_out, N)

    def forward(self,
                x: Tensor,
                text_feats: Tensor,
                text_mask: Optional[Tensor] = None,
                return_attn: bool = False,
                return_logits: bool = False) -> Union[Tensor, Tuple[Tensor, ...]]:
        """Attend from every pixel to the words.

        Args:
            x (Tensor): Visual features, tokens (B, N, C_v) or a map (B, C_v, H, W).
            text_feats (Tensor): (B, L, C_t).
            text_mask (Tensor, optional): (B, L), 1 for real tokens, 0 for padding.
            return_attn (bool): Also return the attention weights. Defaults to False.
            return_logits (bool): Also return the pre-softmax correlation logits (scaled,
                padding bias added), e.g. to normalise them along the pixels for an
                image-to-text update (BTDNet's BSC). Defaults to False.

        Returns:
            Tensor | tuple[Tensor, ...]: Per-pixel language features in the layout of
            ``x`` with ``out_channels`` channels, i.e. (B, N, C_out) or (B, C_out, H, W);
            with ``return_attn`` also the weights (B, num_heads, N, L); with
            ``return_logits`` (last) also the logits (B, num_heads, N, L).
        """
        x, hw_shape = _to_channels_first(x)  # (B, C_v, N)
        key, value, text_mask = self.text_keys_values(text_feats, text_mask)
        if self.attn_impl == 'sdpa' and not (return_attn or return_logits):
            B, N, h = x.shape[0], x.shape[2], self.num_heads
            query = self.f_query(x).reshape(B, h, self.key_channels // h, N)
            bias = text_mask_to_bias(text_mask, self.mask_value)[:, None, None, :]
            out = sdpa(query.transpose(2, 3), key.transpose(2, 3), value.transpose(2, 3), bias,
                       scale=self.scale)  # (B, h, N, d_v)
            out = self.W(out.permute(0, 1, 3, 2).reshape(B, self.value_channels, N))
            return _from_channels_first(out, hw_shape)
        logits = self.logits(self.f_query(x), key, text_mask)  # (B, h, N, L)
        attn = F.softmax(logits, dim=-1)
        out = _from_channels_first(self.aggregate(attn, value), hw_shape)
        extra = ((attn, ) if return_attn else ()) + ((logits, ) if return_logits else ())
        return (out, *extra) if extra else out


@MODELS.register_module()
class PWAM(BaseModule):
    """Pixel-Word Attention Module of LAVT.

    ``G = SILA(V, L, m)`` (per-pixel language feature), ``V_m = act(Conv1x1(V))``,
    ``F = act(Conv1x1(V_m * G))``, with GELU and dropout after both projections.

    Paper: `LAVT: Language-Aware Vision Transformer for Referring Image Segmentation
    <https://arxiv.org/abs/2112.02244>`_.

    Args:
        channels (int): Visual channels C (input and output).
        text_channels (int): Text channels C_t. Defaults to 768.
        key_channels (int, optional): Query/key channels of the attention. Defaults to
            ``channels``.
        value_channels (int, optional): Value channels of the attention, also the width of
            the multiplicative fusion. Defaults to ``channels``.
        out_channels (int, optional): Output channels. Defaults to ``channels``.
        num_heads (int): Attention heads. Defaults to 1 (LAVT).
        qk_scale (float, optional): Logit scale. Defaults to ``key_channels ** -0.5``.
        dropout (float): Dropout after both projections (LAVT ``fusion_drop``). Defaults to 0.
        act_cfg (dict): Activation of both projections. Defaults to ``dict(type='GELU')``.
        coord_feats (bool): Concatenate the normalised pixel coordinates (x, y in (-1, 1),
            pixel centres) to V before ``vis_project`` (not in LAVT; an mmrrsis switch), so the
            multiplicative fusion ``V_m * G`` can turn position words ("on the left") into a
            spatial map in one layer. ``forward`` then needs the grid shape for token inputs.
            Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 channels: int,
                 text_channels: int = 768,
                 key_channels: Optional[int] = None,
                 value_channels: Optional[int] = None,
                 out_channels: Optional[int] = None,
                 num_heads: int = 1,
                 qk_scale: Optional[float] = None,
                 dropout: float = 0.0,
                 act_cfg: ConfigType = dict(type='GELU'),
                 coord_feats: bool = False,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        key_channels = key_channels or channels
        value_channels = value_channels or channels
        out_channels = out_channels or channels
        self.channels = channels
        self.text_channels = text_channels
        self.out_channels = out_channels
        self.coord_feats = coord_feats

        self.vis_project = nn.Sequential(
            nn.Conv1d(channels + (2 if coord_feats else 0), value_channels, kernel_size=1),
            build_activation_layer(act_cfg), nn.Dropout(dropout))
        self.image_lang_att = SpatialImageLanguageAttention(
            v_in_channels=channels,
            l_in_channels=text_channels,
            key_channels=key_channels,
            value_channels=value_channels,
            out_channels=value_channels,
            num_heads=num_heads,
            qk_scale=qk_scale)
        self.project_mm = nn.Sequential(
            nn.Conv1d(value_channels, out_channels, kernel_size=1),
            build_activation_layer(act_cfg), nn.Dropout(dropout))

    def forward(self,
                x: Tensor,
                text_feats: Tensor,
                text_mask: Optional[Tensor] = None,
                hw_shape: Optional[Tuple[int, int]] = None) -> Tensor:
        """Fuse the words into every pixel.

        Args:
            x (Tensor): Visual features, tokens (B, N, C) or a map (B, C, H, W).
            text_feats (Tensor): (B, L, C_t).
            text_mask (Tensor, optional): (B, L), 1 for real tokens, 0 for padding.
            hw_shape (tuple[int, int], optional): (H, W) of the token grid (row-major);
                needed for token inputs when ``coord_feats=True``.

        Returns:
            Tensor: The fused features F in the layout of ``x``: (B, N, C_out) or
            (B, C_out, H, W).
        """
        x_cf, map_shape = _to_channels_first(x)  # (B, C, N)
        vis_in = x_cf
        if self.coord_feats:
            grid = map_shape or hw_shape
            if grid is None or grid[0] * grid[1] != x_cf.shape[-1]:
                raise ValueError(f'PWAM(coord_feats=True) needs hw_shape for token inputs '
                                 f'(got {hw_shape} for {x_cf.shape[-1]} tokens).')
            coords = coordinate_features(*grid, device=x_cf.device, dtype=x_cf.dtype)
            vis_in = torch.cat([x_cf, coords.expand(x_cf.shape[0], -1, -1)], dim=1)
        vis = self.vis_project(vis_in)  # (B, C_v', N)
        lang = self.image_lang_att(x_cf.transpose(1, 2), text_feats, text_mask)  # (B, N, C_v')
        mm = self.project_mm(vis * lang.transpose(1, 2))  # (B, C_out, N)
        return _from_channels_first(mm, map_shape)
