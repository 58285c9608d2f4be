# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import Optional, Tuple

import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_init
from mmseg.registry import MODELS
from torch import Tensor

from ..layers import ChannelModulation, ObjectPositionAlignment
from .lavt_swin import LAVTSwinTransformer


@MODELS.register_module()
class FIANetSwinTransformer(LAVTSwinTransformer):
    """Swin Transformer with FIANet's Fine-grained Image-text Alignment Module (FIAM).

    For every fusing stage i (``X`` the stage's tokens after its Swin blocks)::

        w     = ChannelModulation_i(X)                         # (B, 1, C_i)
        F_c   = PWAM_i(X, L_c, m_c)                            # context alignment (LAVT's PWAM)
        O     = OPAB_i(X, L_g, m_g, L_s, m_s)                  # object-position alignment
        X     = X + (Gate_i(F_c) * F_c + O) * w                # then PatchMerging
        out_i = norm_i(F_c)                                    # as in LAVT: the context output

    ``pwams`` and ``gates`` are LAVT's modules (same names), ``opabs`` and ``channel_mods``
    hold the new parts. The language enters as the context ``text_feats`` / ``text_mask``
    plus the decoupled ``object_*`` / ``position_*`` texts of a ``DecoupledTextEncoder``
    (all (B, L, C_t) / (B, L)).

    Paper: `Exploring Fine-Grained Image-Text Alignment for Referring Remote Sensing Image
    Segmentation <https://arxiv.org/abs/2409.13637>`_ (``MMBasicLayer`` and ``OPAB`` in
    Shaosifan/FIANet ``lib/backbone.py``).

    Deviation from the reference code: the last stage builds only its PWAM. Its gate, OPAB
    and channel modulation update a residual stream that feeds nothing (dead weights in the
    reference, which would need DDP's ``find_unused_parameters``); the outputs are identical.

    Args:
        channel_ratio (int): Reduction of the channel modulation. Defaults to 8.
        spatial_kernel (int): Kernel of OPAB's spatial-map convolution. Defaults to 3.
        use_opab (bool): Build the object-position alignment (ablation switch).
            Defaults to True.
        use_channel_mod (bool): Weight the fused features by the channel modulation
            (ablation switch). Defaults to True.
        **kwargs: Arguments of :class:`LAVTSwinTransformer` (``text_dim``, ``fusion_stages``,
            ``pwam_num_heads`` ...) and of MMSeg's ``SwinTransformer``.
    """

    def __init__(self,
                 channel_ratio: int = 8,
                 spatial_kernel: int = 3,
                 use_opab: bool = True,
                 use_channel_mod: bool = True,
                 **kwargs) -> None:
        if not kwargs.get('gate', True):
            raise ValueError('FIANetSwinTransformer needs the context gate (gate=True)')
        super().__init__(**kwargs)
        self.opabs = nn.ModuleDict()
        self.channel_mods = nn.ModuleDict()
        last = len(self.stages) - 1
        for i in self.fusion_stages:
            if i == last:
                continue
            channels = self.num_features[i]
            if use_opab:
                self.opabs[str(i)] = ObjectPositionAlignment(
                    channels, self.text_dim, kernel_size=spatial_kernel)
            if use_channel_mod:
                self.channel_mods[str(i)] = ChannelModulation(channels, ratio=channel_ratio)

    def init_weights(self) -> None:
        """LAVT's initialisation, plus trunc-normal (std 0.02) linear layers in the OPABs and
        channel modulations."""
        super().init_weights()
        for module in (self.opabs, self.channel_mods):
            for m in module.modules():
                if isinstance(m, nn.Linear):
                    trunc_normal_init(m, std=.02, bias=0.)

    def forward(self,
                x: Tensor,
                text_feats: Tensor,
                text_mask: Optional[Tensor] = None,
                object_feats: Optional[Tensor] = None,
                object_mask: Optional[Tensor] = None,
                position_feats: Optional[Tensor] = None,
                position_mask: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """Extract language-aware multi-scale features with FIAM.

        Args:
            x (Tensor): Images (B, 3, H, W).
            text_feats (Tensor): Context text (B, L, C_t).
            text_mask (Tensor, optional): (B, L), 1 for real tokens.
            object_feats (Tensor): Ground-object text (B, L, C_t).
            object_mask (Tensor): (B, L), 1 for the category's word pieces (may be all 0).
            position_feats (Tensor): Spatial-position text (B, L, C_t).
            position_mask (Tensor): (B, L), 1 for the position phrase's word pieces.

        Returns:
            tuple[Tensor]: One map per stage in ``out_indices``, (B, C_i, H_i, W_i).
        """
        if len(self.opabs) and (object_feats is None or position_feats is None):
            raise ValueError('FIANetSwinTransformer needs the decoupled object and position '
                             'texts (a DecoupledTextEncoder in a FIANetEncoderDecoder)')
        def fuse(i: int, x: Tensor, hw_shape) -> Tuple[Tensor, Tensor]:
            key = str(i)
            if key not in self.pwams:
                return x, x
            context = self.pwams[key](x, text_feats, text_mask, hw_shape)  # F_c (B, N_i, C_i)
            if key in self.gates:
                update = self.gates[key](context)  # Gate(F_c) * F_c
                if key in self.opabs:
                    update = update + self.opabs[key](x, hw_shape, object_feats, object_mask,
                                                      position_feats, position_mask)
                if key in self.channel_mods:
                    update = update * self.channel_mods[key](x)
                x = x + update
            return x, context

        return self._stages_forward(x, fuse)
