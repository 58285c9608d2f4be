# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model.weight_init import trunc_normal_init
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from ..layers import coordinate_features, masked_mean
from .lavt_head import LAVTHead

COMBINE_RULES = ('softmax_pair', 'product')


@MODELS.register_module()
class TBTDHead(BaseDecodeHead):
    """Target-Background TwinStream Decoder (T-BTD) of BTDNet, an interpretation.

    ::

        D            = MCI(out_1..out_4)                       # (B, C, H/4, W/4)
        D_fg, D_bg   = Tower_fg(D), Tower_bg(D)                # [Conv3x3-BN-ReLU] x 2 each
        s            = masked_mean(L)                          # sentence of the (updated) words
        q_fg, q_bg   = e_fg + MLP_fg(s), e_bg + MLP_bg(s)      # text-conditioned queries
        q_fg, q_bg   = TransformerDecoderLayer(q, flatten(D))  # optional (query_decoder)
        z_fg, z_bg   = <q_fg, D_fg(x)> / sqrt(C), <q_bg, D_bg(x)> / sqrt(C)

    MCI (Multi-scale Context Integration): every level -> Conv1x1-BN-ReLU to ``channels``,
    upsampled to the finest level, concatenated, Conv1x1 to ``channels``, then (``mci='aspp'``)
    a context block of parallel dilated 3x3 convs, Conv1x1 and a residual
    (``mci='concat'``: no context block; ``mci='lavt'``: LAVT's SimpleDecoding feature Y1).

    Joint 2-class logits (background, target), compatible with the segmentor and the metric:

    - ``combine='softmax_pair'``: ``[z_bg, z_fg]``, so p_fg = sigmoid(z_fg - z_bg).
    - ``combine='product'``: p_fg = sigmoid(z_fg) * (1 - sigmoid(z_bg)), returned as the
      log-probabilities ``[log(1 - p_fg), log(p_fg)]`` (softmax of them gives back p_fg, so
      argmax thresholds p_fg at 0.5 and CE equals BCE on p_fg).
    - ``single_stream=True`` (control): no background stream, logits ``[0, z_fg]``.

    Training adds twin-stream BCE terms on the streams' own logits, ``loss_fg = BCE(z_fg, y)``
    and ``loss_bg = BCE(z_bg, 1 - y)``, each weighted by ``lambda_aux`` (0 disables them).

    Paper: `BTDNet <https://arxiv.org/abs/2502.08486>`_ (design: models.md §4.4).

    Args:
        in_channels (Sequence[int]): Channels of the input maps, finest first.
        channels (int): Width C of MCI, the towers and the queries. Defaults to 256.
        text_dim (int): Channels C_t of the words. Defaults to 768.
        num_classes (int): Must be 2. Defaults to 2.
        in_index (Sequence[int]): Selected inputs, finest first. Defaults to (0, 1, 2, 3).
        mci (str): ``'aspp'``, ``'concat'`` or ``'lavt'``. Defaults to ``'aspp'``.
        dilations (Sequence[int]): Dilations of the context block. Defaults to (1, 3, 6, 9).
        query_decoder (bool): Refine the two queries with a Transformer decoder layer over D.
            Defaults to True.
        query_heads (int): Heads of that layer. Defaults to 8.
        combine (str): ``'softmax_pair'`` or ``'product'``. Defaults to ``'softmax_pair'``.
        single_stream (bool): Foreground stream only (ablation control). Defaults to False.
        bg_query (str): How the background query is made: ``'text'`` (``e_bg +
            MLP_bg(s)``, reads the expression) or ``'learned'`` (``e_bg`` only: a
            category-agnostic background query that does not read the expression; the query
            decoder refines each query alone over D, without self-attention between them).
            Defaults to ``'text'``.
        coord_feats (bool): Add a learned 1x1 projection of the normalised pixel coordinates
            (x, y in (-1, 1)) to D before the query decoder and the towers (not in BTDNet; an
            mmrrsis switch): the text-conditioned queries can then select by position
            directly. Defaults to False.
        lambda_aux (float): Weight of ``loss_fg`` and ``loss_bg``. Defaults to 0.4.
        norm_cfg (dict): Norm of the convs. Defaults to ``dict(type='BN', requires_grad=True)``.
        align_corners (bool): Of every bilinear resize. Defaults to True (LAVT).
        **kwargs: Other :class:`BaseDecodeHead` arguments (``loss_decode``, ``act_cfg`` ...).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int = 256,
                 text_dim: int = 768,
                 num_classes: int = 2,
                 in_index: Sequence[int] = (0, 1, 2, 3),
                 mci: str = 'aspp',
                 dilations: Sequence[int] = (1, 3, 6, 9),
                 query_decoder: bool = True,
                 query_heads: int = 8,
                 combine: str = 'softmax_pair',
                 single_stream: bool = False,
                 bg_query: str = 'text',
                 coord_feats: bool = False,
                 lambda_aux: float = 0.4,
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 align_corners: bool = True,
                 **kwargs) -> None:
        if num_classes != 2:
            raise ValueError('TBTDHead predicts (background, target): num_classes must be 2.')
        if combine not in COMBINE_RULES:
            raise ValueError(f'combine must be one of {COMBINE_RULES}, got {combine!r}')
        if bg_query not in ('text', 'learned'):
            raise ValueError(f"bg_query must be 'text' or 'learned', got {bg_query!r}")
        if mci not in ('aspp', 'concat', 'lavt'):
            raise ValueError(f"mci must be 'aspp', 'concat' or 'lavt', got {mci!r}")
        kwargs.setdefault('init_cfg', None)  # no conv_seg to initialise
        super().__init__(
            in_channels=list(in_channels),
            channels=channels,
            num_classes=num_classes,
            in_index=list(in_index),
            input_transform='multiple_select',
            dropout_ratio=kwargs.pop('dropout_ratio', 0.0),
            norm_cfg=norm_cfg,
            align_corners=align_corners,
            **kwargs)
        del self.conv_seg  # the streams' queries are the classifiers
        self.mci = mci
        self.combine = combine
        self.single_stream = single_stream
        self.bg_query = bg_query
        self.last_decode_feature: Optional[Tensor] = None
        self.lambda_aux = lambda_aux
        conv_kw = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)

        # Multi-scale Context Integration
        if mci == 'lavt':  # LAVT's SimpleDecoding (its Y1) as the MCI map
            self.lavt_decoder = LAVTHead(
                in_channels=self.in_channels, channels=channels,
                in_index=list(range(len(self.in_channels))), norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg, align_corners=align_corners, init_cfg=None)
            del self.lavt_decoder.conv_seg  # only its fusion layers are used
        else:
            self.lateral_convs = nn.ModuleList(
                ConvModule(c, channels, 1, **conv_kw) for c in self.in_channels)
            self.fuse_conv = ConvModule(channels * len(self.in_channels), channels, 1,
                                        **conv_kw)
        if mci == 'aspp':
            self.context_convs = nn.ModuleList(
                ConvModule(channels, channels, 3, padding=d, dilation=d, **conv_kw)
                for d in dilations)
            self.context_fuse = ConvModule(channels * len(dilations), channels, 1, **conv_kw)

        def tower():
            return nn.Sequential(
                ConvModule(channels, channels, 3, padding=1, **conv_kw),
                ConvModule(channels, channels, 3, padding=1, **conv_kw))

        def mlp():
            return nn.Sequential(
                nn.Linear(text_dim, channels), nn.GELU(), nn.Linear(channels, channels))

        streams = ('fg', ) if single_stream else ('fg', 'bg')
        self.streams = streams
        self.towers = nn.ModuleDict({s: tower() for s in streams})
        # a learned background query reads no text: no MLP for it
        self.query_mlps = nn.ModuleDict(
            {s: mlp() for s in streams if not (s == 'bg' and bg_query == 'learned')})
        self.query_embed = nn.Parameter(torch.zeros(len(streams), channels))
        self.coord_proj = nn.Conv2d(2, channels, 1) if coord_feats else None
        # sequence-first (see _decode_queries): the same parameters as batch_first=True
        self.query_decoder = nn.TransformerDecoderLayer(
            channels, query_heads, dim_feedforward=4 * channels, dropout=0.0,
            batch_first=False) if query_decoder else None

    def init_weights(self) -> None:
        super().init_weights()
        trunc_normal_init(self.query_embed, std=.02)

    def decode_feature(self, inputs: Sequence[Tensor]) -> Tensor:
        """MCI: (B, C_k, H_k, W_k) maps, finest first -> D (B, channels, H_0, W_0)."""
        feats = self._transform_inputs(inputs)
        if self.mci == 'lavt':
            d = self.lavt_decoder._forward_feature(feats)
            return self.dropout(d) if self.dropout is not None else d
        size = feats[0].shape[2:]
        lat = [
            resize(conv(f), size=size, mode='bilinear', align_corners=self.align_corners)
            if f.shape[2:] != size else conv(f) for conv, f in zip(self.lateral_convs, feats)
        ]
        d = self.fuse_conv(torch.cat(lat, dim=1))
        if self.mci == 'aspp':
            d = d + self.context_fuse(torch.cat([conv(d) for conv in self.context_convs], 1))
        return self.dropout(d) if self.dropout is not None else d

    def stream_logits(self, inputs: Sequence[Tensor], text_feats: Tensor,
                      text_mask: Optional[Tensor] = None,
                      return_feature: bool = False) -> Tuple[Optional[Tensor], ...]:
        """The twin streams' logits ``z_fg`` and ``z_bg`` (None if single stream), each
        (B, 1, H_0, W_0); with ``return_feature`` also the MCI map D (B, C, H_0, W_0)."""
        d = feature = self.decode_feature(inputs)  # (B, C, H, W)
        if self.coord_proj is not None:
            H, W = d.shape[2:]
            coords = coordinate_features(H, W, device=d.device).reshape(1, 2, H, W)
            d = d + self.coord_proj(coords)
        sentence = masked_mean(text_feats, text_mask)  # (B, C_t)
        queries = torch.stack([
            self.query_mlps[s](sentence) if s in self.query_mlps else
            sentence.new_zeros(sentence.shape[0], self.channels) for s in self.streams
        ], 1)
        queries = queries + self.query_embed.unsqueeze(0)  # (B, S, C)
        if self.query_decoder is not None:
            # (N, B, C) contiguous: with a transposed memory the attention's key/value
            # projections run as a batched product over an expanded weight, which under
            # bfloat16 autocast on the CPU copies it once per pixel (3.5 GB at 480x480)
            memory = d.flatten(2).permute(2, 0, 1).contiguous()
            q = queries.transpose(0, 1)  # (S, B, C)
            if self.bg_query == 'learned' and len(self.streams) > 1:
                # each query refined alone: no self-attention from the text-aware fg query
                q = torch.cat([self.query_decoder(q[k:k + 1], memory)
                               for k in range(len(self.streams))], dim=0)
            else:
                q = self.query_decoder(q, memory)
            queries = q.transpose(0, 1)  # (B, S, C)
        scale = d.shape[1]**-0.5
        z = [
            torch.einsum('bc,bchw->bhw', queries[:, k], self.towers[s](d)).unsqueeze(1) * scale
            for k, s in enumerate(self.streams)
        ]
        out = (z[0], z[1] if len(z) > 1 else None)
        return out + (feature, ) if return_feature else out

    def combine_logits(self, z_fg: Tensor, z_bg: Optional[Tensor]) -> Tensor:
        """Joint 2-class logits (B, 2, H, W), channel 1 = target."""
        if z_bg is None:
            return torch.cat([torch.zeros_like(z_fg), z_fg], dim=1)
        if self.combine == 'softmax_pair':
            return torch.cat([z_bg, z_fg], dim=1)
        log_p = F.logsigmoid(z_fg) + F.logsigmoid(-z_bg)  # log(p_fg), p_fg < 1
        log_q = torch.log(-torch.expm1(log_p).clamp(max=-1e-7))  # log(1 - p_fg)
        return torch.cat([log_q, log_p], dim=1)

    def forward(self, inputs: Tuple[Tensor, ...], text_feats: Tensor,
                text_mask: Optional[Tensor] = None) -> Tensor:
        """Forward.

        Args:
            inputs (tuple[Tensor]): Multi-level maps (B, C_k, H_k, W_k), finest first.
            text_feats (Tensor): (B, L, C_t) words (BTDNet: the BSC-updated ones).
            text_mask (Tensor, optional): (B, L), 1 for real tokens.

        Returns:
            Tensor: Logits (B, 2, H_0, W_0).
        """
        return self.combine_logits(*self.stream_logits(inputs, text_feats, text_mask))

    def loss(self, inputs: Tuple[Tensor, ...], batch_data_samples: SampleList,
             train_cfg: ConfigType, text_feats: Tensor = None,
             text_mask: Optional[Tensor] = None) -> dict:
        """Segmentation losses of the joint logits plus ``loss_fg`` / ``loss_bg``.

        The MCI map of this call stays in ``last_decode_feature`` (BTDNet's D-MOLS may use it
        as memory, ``DMOLSLoss(memory='mci')``; the segmentor clears it).
        """
        z_fg, z_bg, self.last_decode_feature = self.stream_logits(
            inputs, text_feats, text_mask, return_feature=True)
        losses = self.loss_by_feat(self.combine_logits(z_fg, z_bg), batch_data_samples)
        if self.lambda_aux > 0:
            label = self._stack_batch_gt(batch_data_samples).float()  # (B, 1, H, W)
            valid = (label != self.ignore_index).float()
            target = label * valid
            for name, z, y in (('loss_fg', z_fg, target), ('loss_bg', z_bg, 1 - target)):
                if z is None:
                    continue
                z = resize(z, size=label.shape[2:], mode='bilinear',
                           align_corners=self.align_corners)
                bce = F.binary_cross_entropy_with_logits(z, y, reduction='none')
                losses[name] = self.lambda_aux * (bce * valid).sum() / valid.sum().clamp(min=1)
        return losses

    def predict(self, inputs: Tuple[Tensor, ...], batch_img_metas: List[dict],
                test_cfg: ConfigType, text_feats: Tensor = None,
                text_mask: Optional[Tensor] = None) -> Tensor:
        """Logits resized to the input (B, 2, H, W)."""
        return self.predict_by_feat(self.forward(inputs, text_feats, text_mask), batch_img_metas)
