# Copyright (c) mmrrsis contributors. All rights reserved.
"""Bidirectional Spatial Correlation (BSC) of BTDNet, an interpretation (models.md §4.3).

The paper text and code could not be read; only the figure caption is known: "the
correlation of information between image-to-text and text-to-image will be performed based
on spatial context". Every uncertain choice is an argument (see ``configs/btdnet/README.md``).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_init
from torch import Tensor

from mmseg.registry import MODELS
from .language_gate import LanguageGate
from .pwam import PWAM
from .text_mask import normalize_text_mask

SPATIAL_CONTEXTS = ('none', 'dwconv', 'multi_dilation')


@MODELS.register_module()
class BidirectionalSpatialCorrelation(BaseModule):
    """BSC: one pixel-word correlation used text-to-image *and* image-to-text.

    With ``X`` the visual tokens (B, N, C) on an H x W grid and ``L`` the words (B, L, C_t)::

        Vs  = X + sum_d DW3x3_d(X)                      # spatial context ('none': Vs = X)
        Cor = IN(W_q Vs) (W_k L * m)^T / sqrt(C) - 1e4 (1 - m)        # (B, h, N, L)
        G   = IN(W_o(softmax_L(Cor) (W_v L * m)))       # text -> image (PWAM's SILA)
        F   = GELU(W_mm(GELU(W_vis X) * G))             # PWAM output, the stage output source
        X'  = X + Tanh(Lin-ReLU-Lin)(F) * F             # PWAM's language gate
        Hw  = softmax_N(Cor)^T (W_v' Vs)                # image -> text, same Cor, (B, L, C)
        L'  = L + m * TextGate(W_up Hw)                 # gated residual, padding untouched

    The text-to-image half *is* :class:`PWAM` (``self.pwam``) plus :class:`LanguageGate`
    (``self.gate``), fed with ``Vs`` as attention query; with ``spatial_context='none'`` and
    ``bidirectional=False`` the module reduces numerically to LAVT's PWAM + gate and leaves the
    text unchanged. Deviation from models.md §4.3: the spatial context keeps an identity term
    (``Vs = X + ...``) so that 'none' and the context kinds differ only by the added convs.

    Paper: `BTDNet, Referring Remote Sensing Image Segmentation via Bidirectional Alignment
    Guided Joint Prediction <https://arxiv.org/abs/2502.08486>`_ (equations: interpretation).

    Args:
        channels (int): Visual channels C.
        text_channels (int): Text channels C_t. Defaults to 768.
        num_heads (int): Heads of the correlation. Defaults to 1 (LAVT).
        spatial_context (str): ``'none'``, ``'dwconv'`` (one depth-wise 3x3) or
            ``'multi_dilation'`` (depth-wise 3x3 with dilations ``context_dilations``).
            Defaults to ``'multi_dilation'``.
        context_dilations (Sequence[int]): Dilations of ``'multi_dilation'``. Defaults to
            (1, 2, 3).
        bidirectional (bool): Also update the text (image -> text). Defaults to True.
        share_correlation (bool): The image -> text update reuses the text -> image
            correlation ``Cor``; False computes its own, ``(W_k' Vs)(W_q' L)^T / sqrt(C)``
            (ablation of the shared correlation). Defaults to True.
        visual_gate (bool): Build the visual language gate (False where ``X'`` feeds nothing,
            e.g. the last Swin stage). Defaults to True.
        text_norm (bool): LayerNorm on the updated text ``L'``. Defaults to False.
        dropout (float): Dropout inside PWAM. Defaults to 0.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 channels: int,
                 text_channels: int = 768,
                 num_heads: int = 1,
                 spatial_context: str = 'multi_dilation',
                 context_dilations: Sequence[int] = (1, 2, 3),
                 bidirectional: bool = True,
                 share_correlation: bool = True,
                 visual_gate: bool = True,
                 text_norm: bool = False,
                 dropout: float = 0.0,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if spatial_context not in SPATIAL_CONTEXTS:
            raise ValueError(f'spatial_context must be one of {SPATIAL_CONTEXTS}, '
                             f'got {spatial_context!r}')
        self.channels = channels
        self.text_channels = text_channels
        self.num_heads = num_heads
        self.spatial_context = spatial_context
        self.bidirectional = bidirectional
        self.share_correlation = share_correlation

        dilations = {'none': (), 'dwconv': (1, ), 'multi_dilation': tuple(context_dilations)}
        self.context = nn.ModuleList(
            nn.Conv2d(channels, channels, 3, padding=d, dilation=d, groups=channels)
            for d in dilations[spatial_context])
        self.pwam = PWAM(channels, text_channels=text_channels, num_heads=num_heads,
                         dropout=dropout)
        self.gate = LanguageGate(channels) if visual_gate else None
        if bidirectional:
            self.text_value = nn.Linear(channels, channels)
            if not share_correlation:
                self.i2t_key = nn.Linear(channels, channels)
                self.i2t_query = nn.Linear(text_channels, channels)
            self.text_up = nn.Linear(channels, text_channels)
            self.text_gate = LanguageGate(text_channels)
            self.text_norm = nn.LayerNorm(text_channels) if text_norm else nn.Identity()

    def init_weights(self) -> None:
        """Trunc-normal (std 0.02) linear layers as LAVT's gate, zero-init context convs (the
        block starts as PWAM + gate), then any ``init_cfg``."""
        super().init_weights()
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_init(m, std=.02, bias=0.)
        for conv in self.context:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def spatial_tokens(self, x: Tensor, hw_shape: Tuple[int, int]) -> Tensor:
        """``Vs``: (B, N, C) tokens plus their depth-wise context on the (H, W) grid."""
        if not len(self.context):
            return x
        B, N, C = x.shape
        # A contiguous float32 map: under CPU bfloat16 autocast, the depth-wise dilated convs on
        # the channels-last view that transpose+reshape gives returned NaN weight gradients
        # (oneDNN, torch 2.12); the convs are cheap, so they always run in float32.
        x_map = x.transpose(1, 2).reshape(B, C, *hw_shape).contiguous()
        with torch.autocast(device_type=x.device.type, enabled=False):
            ctx = sum(conv(x_map.float()) for conv in self.context)
        return x + ctx.flatten(2).transpose(1, 2).to(x.dtype)

    def forward(self, x: Tensor, hw_shape: Tuple[int, int], text_feats: Tensor,
                text_mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
        """Correlate pixels and words and update both streams.

        Args:
            x (Tensor): Visual tokens (B, N, C), N = H * W.
            hw_shape (tuple[int, int]): (H, W).
            text_feats (Tensor): (B, L, C_t).
            text_mask (Tensor, optional): (B, L), 1 for real tokens, 0 for padding.

        Returns:
            tuple[Tensor, Tensor, Tensor]:

            - x (Tensor): (B, N, C) updated visual stream ``X'`` (``X + F`` without gate).
            - fused (Tensor): (B, N, C) the fused features F (what LAVT hands to the decoder).
            - text_feats (Tensor): (B, L, C_t) the updated words ``L'`` (unchanged when not
              bidirectional).
        """
        pwam = self.pwam
        vs = self.spatial_tokens(x, hw_shape)  # (B, N, C)
        vis = pwam.vis_project(x.transpose(1, 2))  # (B, C, N)
        lang, logits = pwam.image_lang_att(
            vs, text_feats, text_mask, return_logits=True)  # (B, N, C), (B, h, N, L)
        fused = pwam.project_mm(vis * lang.transpose(1, 2)).transpose(1, 2)  # (B, N, C)
        x_new = self.gate(fused, identity=x) if self.gate is not None else x + fused

        if self.bidirectional:
            mask = normalize_text_mask(text_mask, text_feats)  # (B, L)
            B, N, C = vs.shape
            h = self.num_heads
            value = self.text_value(vs).reshape(B, N, h, C // h).transpose(1, 2)  # (B,h,N,d)
            if not self.share_correlation:
                key = self.i2t_key(vs).reshape(B, N, h, C // h).transpose(1, 2)  # (B,h,N,d)
                query = self.i2t_query(text_feats)  # (B, L, C)
                query = query.reshape(B, -1, h, C // h).permute(0, 2, 3, 1)  # (B, h, d, L)
                logits = torch.matmul(key, query) * C**-0.5  # (B, h, N, L)
            weights = F.softmax(logits, dim=2)  # normalised over the pixels
            words = torch.matmul(weights.transpose(2, 3), value)  # (B, h, L, d)
            words = words.transpose(1, 2).reshape(B, -1, C)  # (B, L, C)
            update = self.text_gate(self.text_up(words))  # (B, L, C_t)
            real = mask.unsqueeze(-1)  # (B, L, 1)
            updated = self.text_norm(text_feats + real * update)
            text_feats = real * updated + (1 - real) * text_feats  # padding untouched
        return x_new, fused, text_feats
