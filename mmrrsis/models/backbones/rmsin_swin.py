# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_init
from torch import Tensor

from mmseg.registry import MODELS
from ..layers import LanguageGate, VariousReceptive
from .lavt_swin import LAVTSwinTransformer


@MODELS.register_module()
class RMSINSwinTransformer(LAVTSwinTransformer):
    """Swin Transformer with RMSIN's intra-scale interaction (IIM) after each stage.

    LAVT's stage fusion plus a purely visual branch with its own gate, in parallel (``X`` the
    stage's tokens after its Swin blocks)::

        F_i   = PWAM_i(X, text_feats, text_mask)            # cross-modal alignment branch
        V_i   = VariousReceptive_i(X)                       # various-receptive branch
        X     = X + Gate_i(F_i) * F_i + VisualGate_i(V_i) * V_i
        out_i = norm_i(F_i)

    The cross-scale interaction (CIM) that follows the stages in RMSIN is the neck
    :class:`CIMNeck`. Same arguments as :class:`LAVTSwinTransformer`, so the Swin width and depth
    of an RMSIN config change with ``--cfg-options model.backbone.embed_dims=...``.

    Paper: `Rotated Multi-Scale Interaction Network for Referring Remote Sensing Image
    Segmentation <https://arxiv.org/abs/2312.12470>`_ (``MMBasicLayer`` in Lsan2401/RMSIN).

    Deviation from the reference code: as in :class:`LAVTSwinTransformer`, the last stage
    builds neither gate nor visual branch: their result feeds nothing there (the reference
    computes and discards it). The outputs are identical.

    Args:
        visual_stages (Sequence[int], optional): Stages with the visual branch. Defaults to
            every fusion stage but the last.
        **kwargs: Arguments of :class:`LAVTSwinTransformer`.
    """

    def __init__(self, visual_stages: Optional[Sequence[int]] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        last = len(self.stages) - 1
        if visual_stages is None:
            visual_stages = [i for i in self.fusion_stages if i < last]
        self.visual_stages = tuple(sorted(set(visual_stages)))
        if any(not 0 <= i < last for i in self.visual_stages):
            raise ValueError(f'visual_stages {visual_stages} must lie in [0, {last}) (the '
                             'last stage feeds nothing after its fusion)')
        self.visual_branches = nn.ModuleDict(
            {str(i): VariousReceptive() for i in self.visual_stages})
        self.visual_gates = nn.ModuleDict(
            {str(i): LanguageGate(self.num_features[i]) for i in self.visual_stages})

    def init_weights(self) -> None:
        """LAVT's initialisation, and trunc-normal (std 0.02) visual gates."""
        super().init_weights()
        for m in self.visual_gates.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_init(m, std=.02, bias=0.)

    def forward(self, x: Tensor, text_feats: Tensor,
                text_mask: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """Images (B, 3, H, W), words (B, L, C_t), mask (B, L) -> one map per stage in
        ``out_indices``, (B, C_i, H_i, W_i)."""
        def fuse(i: int, x: Tensor, hw_shape) -> Tuple[Tensor, Tensor]:
            key = str(i)
            # both branches read the Swin output X (parallel, as in the reference)
            visual = self.visual_branches[key](x, hw_shape) if key in self.visual_branches \
                else None
            x, fused = self._fuse_language(i, x, hw_shape, text_feats, text_mask)
            if visual is not None:
                x = self.visual_gates[key](visual, identity=x)
            return x, fused

        return self._stages_forward(x, fuse)
