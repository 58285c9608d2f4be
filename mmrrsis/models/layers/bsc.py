# Copyright (c) mmrrsis contributors. All rights reserved.
"""Bidirectional Spatial Correlation (BSC) of BTDNet, an interpretation (models.md §4.3).

The paper text and code could not be read; only the figure caption is known: "the
correlation of information between image-to-text and text-to-image will be performed based
on spatial context". Every uncertain choice is an argument (see ``configs/btdnet/README.md``).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_init
from torch import Tensor

from mmseg.registry import MODELS
from .language_gate import LanguageGate
from .position_encoding import coordinate_features
from .pwam import PWAM
from .text_mask import normalize_text_mask

SPATIAL_CONTEXTS = ('none', 'dwconv', 'multi_dilation', 'unfold_multi')


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

    ``text_update_norm=True`` (an mmrrsis switch) reads ``W_up LN(Hw)`` instead: the pooled
    visual message is LayerNormed before it becomes a word update, so the update no longer
    scales with the visual features' magnitude. Without it, ladder runs on ``synth-hard``
    collapsed: one stage's update grew to 15-60x the word norm and was the same vector for
    every word (the pixel softmax pools one global feature), so the later stages and the head
    lost the expression (``configs/btdnet/README.md``, "word collapse").

    The text-to-image half *is* :class:`PWAM` (``self.pwam``) plus :class:`LanguageGate`
    (``self.gate``), fed with ``Vs`` as attention query; with ``spatial_context='none'`` and
    ``bidirectional=False`` the module reduces numerically to LAVT's PWAM + gate and leaves the
    text unchanged. Deviation from models.md §4.3: the spatial context keeps an identity term
    (``Vs = X + ...``) so that 'none' and the context kinds differ only by the added convs.

    ``spatial_context='unfold_multi'`` follows DMMI's bidirectional interaction (Hu et al.,
    ICCV 2023) instead of one shared correlation: two separate correlations, each a learned
    softmax mixture of context sizes::

        Q_k  = IN(W2_k unfold_kxk(IN(W1_k X)))          # k in visual_kernels; k=1: PWAM's query
        A    = sum_k softmax(alpha)_k softmax_L(Q_k K^T / sqrt(C) - 1e4 (1 - m))
        G    = IN(W_o (A V_l)), then F and X' as above    # text -> image
        P_n  = W2_n ngram_n(W1_n L)                       # n in word_windows (replicate pad)
        B    = sum_n softmax(beta)_n softmax_N(P_n IN(W_k' X)^T / sqrt(C))
        L'   = L + m * TextGate(W_up (B W_v' X))          # image -> text

    ``share_correlation`` has no effect there (the two directions are separate, as in DMMI).

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
        visual_kernels (Sequence[int]): Odd neighbourhood sizes k of ``'unfold_multi'``
            (text -> image). Defaults to (1, 3, 5) (DMMI).
        word_windows (Sequence[int]): Word n-gram sizes of ``'unfold_multi'`` (image -> text).
            Defaults to (1, 2, 3) (DMMI).
        bidirectional (bool): Also update the text (image -> text). Defaults to True.
        share_correlation (bool): The image -> text update reuses the text -> image
            correlation ``Cor``; False computes its own, ``(W_k' Vs)(W_q' L)^T / sqrt(C)``
            (ablation of the shared correlation). Defaults to True.
        visual_gate (bool): Build the visual language gate (False where ``X'`` feeds nothing,
            e.g. the last Swin stage). Defaults to True.
        text_norm (bool): LayerNorm on the updated text ``L'``. Defaults to False.
        text_update_norm (bool): LayerNorm on the image -> text message ``Hw`` before
            ``W_up`` (see above). Defaults to False.
        coord_feats (bool): Give PWAM's visual projection the normalised pixel coordinates
            (``PWAM(coord_feats=True)``, an mmrrsis switch). Defaults to False.
        dropout (float): Dropout inside PWAM. Defaults to 0.
        float32_under_autocast (bool): Run the whole module in float32 inside a bfloat16 /
            float16 autocast region. The stage-by-stage word update compounds rounding: with
            it in bfloat16 the gradients of one full-size BTDNet step agree with float32 only
            to a cosine of 0.95 (0.99+ for LAVT, FIANet); in float32 they agree again
            (docs/en/benchmark.md). Defaults to True.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 channels: int,
                 text_channels: int = 768,
                 num_heads: int = 1,
                 spatial_context: str = 'multi_dilation',
                 context_dilations: Sequence[int] = (1, 2, 3),
                 visual_kernels: Sequence[int] = (1, 3, 5),
                 word_windows: Sequence[int] = (1, 2, 3),
                 bidirectional: bool = True,
                 share_correlation: bool = True,
                 visual_gate: bool = True,
                 text_norm: bool = False,
                 text_update_norm: bool = False,
                 coord_feats: bool = False,
                 dropout: float = 0.0,
                 float32_under_autocast: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.float32_under_autocast = float32_under_autocast
        if spatial_context not in SPATIAL_CONTEXTS:
            raise ValueError(f'spatial_context must be one of {SPATIAL_CONTEXTS}, '
                             f'got {spatial_context!r}')
        self.channels = channels
        self.text_channels = text_channels
        self.num_heads = num_heads
        self.spatial_context = spatial_context
        self.bidirectional = bidirectional
        self.share_correlation = share_correlation

        dilations = {'none': (), 'dwconv': (1, ), 'multi_dilation': tuple(context_dilations),
                     'unfold_multi': ()}
        self.context = nn.ModuleList(
            nn.Conv2d(channels, channels, 3, padding=d, dilation=d, groups=channels)
            for d in dilations[spatial_context])
        self.pwam = PWAM(channels, text_channels=text_channels, num_heads=num_heads,
                         dropout=dropout, coord_feats=coord_feats)
        self.gate = LanguageGate(channels) if visual_gate else None
        self.unfold = spatial_context == 'unfold_multi'
        if self.unfold:
            self._build_unfold_multi(visual_kernels, word_windows)
        if bidirectional:
            self.text_value = nn.Linear(channels, channels)
            if not share_correlation and not self.unfold:
                self.i2t_key = nn.Linear(channels, channels)
                self.i2t_query = nn.Linear(text_channels, channels)
            self.text_msg_norm = nn.LayerNorm(channels) if text_update_norm else nn.Identity()
            self.text_up = nn.Linear(channels, text_channels)
            self.text_gate = LanguageGate(text_channels)
            self.text_norm = nn.LayerNorm(text_channels) if text_norm else nn.Identity()

    def _build_unfold_multi(self, visual_kernels: Sequence[int],
                            word_windows: Sequence[int]) -> None:
        C, C_t = self.channels, self.text_channels
        key_channels = self.pwam.image_lang_att.key_channels
        if any(k < 1 or k % 2 == 0 for k in visual_kernels) or not visual_kernels:
            raise ValueError(f'visual_kernels must be odd sizes >= 1, got {visual_kernels}')
        if any(n < 1 for n in word_windows) or not word_windows:
            raise ValueError(f'word_windows must be sizes >= 1, got {word_windows}')
        self.visual_kernels = tuple(visual_kernels)
        self.word_windows = tuple(word_windows)
        # k x k neighbourhoods; k = 1 is PWAM's own query (its f_query)
        self.t2i_queries = nn.ModuleDict()
        for k in self.visual_kernels:
            if k == 1:
                continue
            inner = max(C // (k - 1), 1)  # DMMI: C/2 for 3x3, C/4 for 5x5
            self.t2i_queries[f'k{k}'] = nn.ModuleDict(
                dict(
                    reduce=nn.Sequential(nn.Conv1d(C, inner, 1), nn.InstanceNorm1d(inner)),
                    expand=nn.Sequential(
                        nn.Conv1d(inner * k * k, key_channels, 1),
                        nn.InstanceNorm1d(key_channels))))
        self.t2i_mix = nn.Parameter(torch.zeros(len(self.visual_kernels)))
        if self.bidirectional:
            self.i2t_queries = nn.ModuleDict()
            for n in self.word_windows:
                inner = max(C_t // n, 1)
                self.i2t_queries[f'n{n}'] = nn.ModuleDict(
                    dict(reduce=nn.Conv1d(C_t, inner, 1), expand=nn.Conv1d(inner * n, C, 1)))
            self.i2t_keys = nn.Sequential(nn.Conv1d(C, C, 1), nn.InstanceNorm1d(C))
            self.i2t_mix = nn.Parameter(torch.zeros(len(self.word_windows)))

    def neighbourhood_queries(self, x: Tensor, hw_shape: Tuple[int, int]) -> List[Tensor]:
        """Queries of the k x k neighbourhoods, each (B, C_k, N), from tokens (B, N, C)."""
        x_cf = x.transpose(1, 2)  # (B, C, N)
        queries = []
        for k in self.visual_kernels:
            if k == 1:
                queries.append(self.pwam.image_lang_att.f_query(x_cf))
                continue
            mods = self.t2i_queries[f'k{k}']
            r = mods['reduce'](x_cf)  # (B, C', N)
            r = F.unfold(r.reshape(*r.shape[:2], *hw_shape), kernel_size=k, padding=k // 2)
            queries.append(mods['expand'](r))  # (B, C_k, N)
        return queries

    def ngram_queries(self, text_feats: Tensor) -> List[Tensor]:
        """Queries of the word n-gram windows, each (B, C, L), from words (B, L, C_t)."""
        t = text_feats.transpose(1, 2)  # (B, C_t, L)
        queries = []
        for n in self.word_windows:
            mods = self.i2t_queries[f'n{n}']
            r = mods['reduce'](t)  # (B, C', L)
            if n > 1:
                r = F.pad(r, (n // 2, (n - 1) // 2), mode='replicate')
                r = r.unfold(2, n, 1)  # (B, C', L, n)
                r = r.permute(0, 1, 3, 2).reshape(r.shape[0], -1, t.shape[2])  # (B, C'n, L)
            queries.append(mods['expand'](r))  # (B, C, L)
        return queries

    def _unfold_multi_forward(self, x: Tensor, hw_shape: Tuple[int, int], text_feats: Tensor,
                              text_mask: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        pwam = self.pwam
        sila = pwam.image_lang_att
        key, value, mask = sila.text_keys_values(text_feats, text_mask)
        weights = F.softmax(self.t2i_mix, dim=0)
        attn = sum(w * F.softmax(sila.logits(q, key, mask), dim=-1)
                   for w, q in zip(weights, self.neighbourhood_queries(x, hw_shape)))
        lang = sila.aggregate(attn, value)  # (B, C_v', N)
        vis = pwam.vis_project(self._vis_input(x, hw_shape))  # (B, C_v', N)
        fused = pwam.project_mm(vis * lang).transpose(1, 2)  # (B, N, C)
        x_new = self.gate(fused, identity=x) if self.gate is not None else x + fused
        if self.bidirectional:
            B, N, C = x.shape
            h = self.num_heads
            keys = self.i2t_keys(x.transpose(1, 2)).reshape(B, h, C // h, N)  # (B, h, d, N)
            value_v = self.text_value(x).reshape(B, N, h, C // h).transpose(1, 2)  # (B,h,N,d)
            mix = F.softmax(self.i2t_mix, dim=0)
            probs = 0
            for w, q in zip(mix, self.ngram_queries(text_feats)):
                q = q.reshape(B, h, C // h, -1).transpose(2, 3)  # (B, h, L, d)
                probs = probs + w * F.softmax(torch.matmul(q, keys) * C**-0.5, dim=-1)
            words = torch.matmul(probs, value_v).transpose(1, 2).reshape(B, -1, C)  # (B, L, C)
            text_feats = self._update_text(text_feats, mask, words)
        return x_new, fused, text_feats

    def _vis_input(self, x: Tensor, hw_shape: Tuple[int, int]) -> Tensor:
        """(B, N, C) tokens -> (B, C [+2], N), with the pixel coordinates if enabled."""
        x_cf = x.transpose(1, 2)
        if not self.pwam.coord_feats:
            return x_cf
        coords = coordinate_features(*hw_shape, device=x.device, dtype=x.dtype)  # (1, 2, N)
        return torch.cat([x_cf, coords.expand(x.shape[0], -1, -1)], dim=1)

    def _update_text(self, text_feats: Tensor, mask: Tensor, words: Tensor) -> Tensor:
        """``L' = L + m * TextGate(W_up words)`` (optional LayerNorms), padding untouched."""
        update = self.text_gate(self.text_up(self.text_msg_norm(words)))  # (B, L, C_t)
        real = mask.unsqueeze(-1)  # (B, L, 1)
        updated = self.text_norm(text_feats + real * update)
        return real * updated + (1 - real) * text_feats

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
        device = x.device.type
        if self.float32_under_autocast and torch.is_autocast_enabled(device):
            with torch.autocast(device_type=device, enabled=False):
                return self._forward(x.float(), hw_shape, text_feats.float(), text_mask)
        return self._forward(x, hw_shape, text_feats, text_mask)

    def _forward(self, x: Tensor, hw_shape: Tuple[int, int], text_feats: Tensor,
                 text_mask: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        if self.unfold:
            return self._unfold_multi_forward(x, hw_shape, text_feats, text_mask)
        pwam = self.pwam
        vs = self.spatial_tokens(x, hw_shape)  # (B, N, C)
        vis = pwam.vis_project(self._vis_input(x, hw_shape))  # (B, C, N)
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
            text_feats = self._update_text(text_feats, mask, words)
        return x_new, fused, text_feats
