# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import List, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_init
from torch import Tensor

from mmseg.registry import MODELS
from ..layers import ChannelModulation, ObjectPositionAlignment
from .lang_fusion_neck import LanguageFusionNeck


@MODELS.register_module()
class FIAMFusionNeck(LanguageFusionNeck):
    """Late FIANet fusion for plain MMSeg backbones: FIAM per level.

    For every selected level X_i (as tokens (B, H_i*W_i, C_i))::

        F_c   = PWAM_i(X_i, L_c, m_c)
        O     = OPAB_i(X_i, L_g, m_g, L_s, m_s)
        out_i = X_i + (Gate_i(F_c) * F_c + O) * ChannelModulation_i(X_i)

    the update of :class:`FIANetSwinTransformer`'s stages, applied after the backbone as
    :class:`LanguageFusionNeck` applies LAVT's (``out_type='residual'``). Needs the decoupled
    texts of a ``DecoupledTextEncoder`` in a ``FIANetEncoderDecoder``. An mmrrsis design for
    comparing FIANet's alignment with LAVT's on the same plain backbone, not FIANet's model.

    Args:
        in_channels (Sequence[int]): Channels of the fused levels.
        channel_ratio (int): Reduction of the channel modulation. Defaults to 8.
        spatial_kernel (int): Kernel of OPAB's spatial-map convolution. Defaults to 3.
        **kwargs: The other arguments of :class:`LanguageFusionNeck` (``text_dim``,
            ``in_index``, ``num_heads``, ``coord_feats``, ``norm_cfg`` ...); ``gate`` must
            stay True and ``out_type`` ``'residual'``.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channel_ratio: int = 8,
                 spatial_kernel: int = 3,
                 **kwargs) -> None:
        if not kwargs.get('gate', True) or kwargs.get('out_type', 'residual') != 'residual':
            raise ValueError("FIAMFusionNeck needs gate=True and out_type='residual'")
        super().__init__(in_channels, **kwargs)
        self.opabs = nn.ModuleList(
            ObjectPositionAlignment(c, self.text_dim, kernel_size=spatial_kernel)
            for c in self.in_channels)
        self.channel_mods = nn.ModuleList(
            ChannelModulation(c, ratio=channel_ratio) for c in self.in_channels)

    def init_weights(self) -> None:
        """LanguageFusionNeck's initialisation, plus trunc-normal (std 0.02) linear layers
        in the OPABs and channel modulations (as FIANet's backbone)."""
        super().init_weights()
        for module in (self.opabs, self.channel_mods):
            for m in module.modules():
                if isinstance(m, nn.Linear):
                    trunc_normal_init(m, std=.02, bias=0.)

    def forward(self, inputs: Sequence[Tensor], text_feats: Tensor,
                text_mask: Optional[Tensor] = None,
                object_feats: Optional[Tensor] = None,
                object_mask: Optional[Tensor] = None,
                position_feats: Optional[Tensor] = None,
                position_mask: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """Fuse the texts into the selected levels.

        Args:
            inputs (Sequence[Tensor]): Backbone outputs, each (B, C_i, H_i, W_i).
            text_feats (Tensor): Context text (B, L, C_t).
            text_mask (Tensor, optional): (B, L), 1 for real tokens.
            object_feats (Tensor): Ground-object text (B, L, C_t).
            object_mask (Tensor): (B, L), 1 for the category's word pieces (may be all 0).
            position_feats (Tensor): Spatial-position text (B, L, C_t).
            position_mask (Tensor): (B, L), 1 for the position phrase's word pieces.

        Returns:
            tuple[Tensor]: As many maps as ``inputs``, same shapes; the selected levels fused.
        """
        if object_feats is None or position_feats is None or object_mask is None:
            raise ValueError('FIAMFusionNeck needs the decoupled object and position texts '
                             '(a DecoupledTextEncoder in a FIANetEncoderDecoder)')
        outs: List[Tensor] = list(inputs)
        for k, idx in enumerate(self.in_index):
            x = inputs[idx]
            B, C, H, W = x.shape
            tokens = x.flatten(2).transpose(1, 2)  # (B, H*W, C)
            context = self.pwams[k](tokens, text_feats, text_mask, (H, W))  # F_c
            update = self.gates[k](context)  # Gate(F_c) * F_c
            update = update + self.opabs[k](tokens, (H, W), object_feats, object_mask,
                                             position_feats, position_mask)
            out = tokens + update * self.channel_mods[k](tokens)
            if self.norms is not None:
                out = self.norms[k](out)
            outs[idx] = out.transpose(1, 2).reshape(B, C, H, W)
        return tuple(outs)
