# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_init
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import OptConfigType, OptMultiConfig
from ..layers import PWAM, LanguageGate


@MODELS.register_module()
class LanguageFusionNeck(BaseModule):
    """Late language fusion for plain MMSeg backbones: LAVT's PWAM and gate per level.

    Every selected pyramid level X_i (B, C_i, H_i, W_i) gets ``F_i = PWAM_i(X_i, text)`` and
    returns, with ``out_type='residual'``, ``X_i + Gate_i(F_i) * F_i`` (the visual features
    stay, language modulates them), or with ``out_type='fusion'`` ``F_i`` itself (what a LAVT
    stage hands to its decoder). Levels not in ``in_index`` pass through unchanged, so the
    neck keeps the number, order and channels of the backbone's outputs and any decode head
    configured for the backbone works behind it. Useful for ResNetV1c, MixVisionTransformer,
    SwinTransformer, VisionTransformer or MMPretrain's ConvNeXt.

    Paper of the fusion blocks: `LAVT <https://arxiv.org/abs/2112.02244>`_. Applying them
    after a frozen-architecture backbone is an mmrrsis design, not a paper's method.

    Args:
        in_channels (Sequence[int]): Channels of the fused levels, one per ``in_index``
            entry.
        text_dim (int): Channels C_t of the text features. Defaults to 768.
        in_index (Sequence[int], optional): Positions of the fused levels in the input
            tuple. Defaults to ``range(len(in_channels))``.
        num_heads (int | Sequence[int]): PWAM attention heads (per level or shared).
            Defaults to 1.
        dropout (float): Dropout inside PWAM. Defaults to 0.
        gate (bool): With ``out_type='residual'``, weight F_i by the tanh language gate;
            False adds it unweighted. Defaults to True.
        out_type (str): ``'residual'`` or ``'fusion'`` (see above). Defaults to
            ``'residual'``.
        norm_cfg (dict, optional): Channels-last norm applied to each fused output (as
            tokens (B, H*W, C)), e.g. ``dict(type='LN')`` as LAVT's stage outputs. Defaults
            to None (no norm).
        coord_feats (bool): Give every PWAM the normalised pixel coordinates
            (see :class:`PWAM`); plain CNN backbones carry little absolute position.
            Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 text_dim: int = 768,
                 in_index: Optional[Sequence[int]] = None,
                 num_heads: Union[int, Sequence[int]] = 1,
                 dropout: float = 0.0,
                 gate: bool = True,
                 out_type: str = 'residual',
                 norm_cfg: OptConfigType = None,
                 coord_feats: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        in_index = list(range(len(in_channels))) if in_index is None else list(in_index)
        if len(in_index) != len(in_channels):
            raise ValueError(f'in_channels {in_channels} and in_index {in_index} must have '
                             'the same length.')
        if out_type not in ('residual', 'fusion'):
            raise ValueError(f"out_type must be 'residual' or 'fusion', got {out_type!r}.")
        if isinstance(num_heads, int):
            num_heads = [num_heads] * len(in_channels)
        self.in_channels = list(in_channels)
        self.in_index = in_index
        self.text_dim = text_dim
        self.out_type = out_type
        self.use_gate = gate and out_type == 'residual'

        self.pwams = nn.ModuleList(
            PWAM(channels=c, text_channels=text_dim, num_heads=h, dropout=dropout,
                 coord_feats=coord_feats)
            for c, h in zip(in_channels, num_heads))
        self.gates = nn.ModuleList(
            LanguageGate(c) for c in in_channels) if self.use_gate else None
        self.norms = nn.ModuleList(
            build_norm_layer(norm_cfg, c)[1]
            for c in in_channels) if norm_cfg is not None else None

    def init_weights(self) -> None:
        """Trunc-normal (std 0.02) gate layers as LAVT, then any ``init_cfg``."""
        if self.gates is not None:
            for m in self.gates.modules():
                if isinstance(m, nn.Linear):
                    trunc_normal_init(m, std=.02, bias=0.)
        super().init_weights()

    def forward(self, inputs: Sequence[Tensor], text_feats: Tensor,
                text_mask: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """Fuse the text into the selected levels.

        Args:
            inputs (Sequence[Tensor]): Backbone outputs, each (B, C_i, H_i, W_i).
            text_feats (Tensor): (B, L, C_t).
            text_mask (Tensor, optional): (B, L), 1 for real tokens, 0 for padding.

        Returns:
            tuple[Tensor]: As many maps as ``inputs``, same shapes; the selected levels fused.
        """
        outs: List[Tensor] = list(inputs)
        for k, idx in enumerate(self.in_index):
            x = inputs[idx]
            B, C, H, W = x.shape
            tokens = x.flatten(2).transpose(1, 2)  # (B, H*W, C)
            fused = self.pwams[k](tokens, text_feats, text_mask, (H, W))  # (B, H*W, C)
            if self.out_type == 'fusion':
                out = fused
            elif self.use_gate:
                out = self.gates[k](fused, identity=tokens)
            else:
                out = tokens + fused
            if self.norms is not None:
                out = self.norms[k](out)
            outs[idx] = out.transpose(1, 2).reshape(B, C, H, W)
        return tuple(outs)
