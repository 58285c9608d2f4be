# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import Optional, Sequence, Tuple, Union

import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS
from ..layers import BidirectionalSpatialCorrelation
from .lavt_swin import LAVTSwinTransformer


@MODELS.register_module()
class BSCSwinTransformer(LAVTSwinTransformer):
    """BTDNet's bidirectional feature extractor: Swin with BSC instead of PWAM after each stage.

    For every fusing stage i (``X`` the stage's tokens after its Swin blocks)::

        X, F_i, L = BSC_i(X, L, m)     # visual stream gated as LAVT, words updated
        out_i     = norm_i(F_i)

    The updated words of the last fusing stage are what the decoder and D-MOLS get; the
    segmentor :class:`BTDNetEncoderDecoder` asks for them with ``return_text=True``. Without
    it the backbone returns only the maps, so :class:`RRSISEncoderDecoder` also works.

    Paper: `BTDNet <https://arxiv.org/abs/2502.08486>`_ (BSC equations: interpretation,
    models.md §4.3). The fusion modules live in ``bscs`` (``bscs.{i}.pwam`` holds LAVT's
    PWAM weights, ``bscs.{i}.gate`` its gate).

    Args:
        text_dim (int): Channels C_t of the text features. Defaults to 768.
        fusion_stages (Sequence[int]): Stages (0-based) followed by BSC. Defaults to
            (0, 1, 2, 3).
        bidirectional_stages (Sequence[int], optional): Fusing stages that also update the
            text (image -> text); the others are PWAM + gate with spatial context. Defaults
            to ``fusion_stages``.
        bsc_cfg (dict, optional): Other arguments of
            :class:`BidirectionalSpatialCorrelation` (``num_heads``, ``spatial_context``,
            ``context_dilations``, ``text_norm``, ``dropout``). ``num_heads`` may be a list
            with one entry per stage.
        **kwargs: Arguments of :class:`LAVTSwinTransformer` / MMSeg's ``SwinTransformer``.
    """

    def __init__(self,
                 text_dim: int = 768,
                 fusion_stages: Sequence[int] = (0, 1, 2, 3),
                 bidirectional_stages: Optional[Sequence[int]] = None,
                 bsc_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(text_dim=text_dim, fusion_stages=fusion_stages, **kwargs)
        # The PWAMs/gates built by LAVTSwinTransformer are replaced by the BSC modules.
        self.pwams = nn.ModuleDict()
        self.gates = nn.ModuleDict()
        bsc_cfg = dict(bsc_cfg or {})
        bsc_cfg.pop('bidirectional', None)
        num_heads: Union[int, Sequence[int]] = bsc_cfg.pop('num_heads', self.pwam_num_heads)
        num_stages = len(self.stages)
        if isinstance(num_heads, int):
            num_heads = [num_heads] * num_stages
        self.bidirectional_stages = tuple(
            self.fusion_stages if bidirectional_stages is None else sorted(bidirectional_stages))
        if not set(self.bidirectional_stages) <= set(self.fusion_stages):
            raise ValueError(f'bidirectional_stages {self.bidirectional_stages} must be fusing '
                             f'stages {self.fusion_stages}.')
        self.bscs = nn.ModuleDict()
        for i in self.fusion_stages:
            self.bscs[str(i)] = BidirectionalSpatialCorrelation(
                channels=self.num_features[i],
                text_channels=text_dim,
                num_heads=num_heads[i],
                bidirectional=i in self.bidirectional_stages,
                visual_gate=self.gate and i < num_stages - 1,
                **bsc_cfg)

    def init_weights(self) -> None:
        """Swin as MMSeg (pretrained or trunc-normal), then the BSC modules' own init."""
        super().init_weights()
        for bsc in self.bscs.values():
            bsc.init_weights()

    def forward(self,
                x: Tensor,
                text_feats: Tensor,
                text_mask: Optional[Tensor] = None,
                return_text: bool = False) -> Union[Tuple[Tensor, ...], tuple]:
        """Extract language-aware multi-scale features and update the words.

        Args:
            x (Tensor): Images (B, 3, H, W).
            text_feats (Tensor): (B, L, C_t).
            text_mask (Tensor, optional): (B, L), 1 for real tokens, 0 for padding.
            return_text (bool): Also return the updated words. Defaults to False.

        Returns:
            tuple: The maps, one per stage in ``out_indices``, (B, C_i, H_i, W_i); with
            ``return_text`` the pair ``(maps, (text_feats (B, L, C_t), text_mask (B, L)))``.
        """
        words = [text_feats]  # updated stage by stage

        def fuse(i: int, x: Tensor, hw_shape) -> Tuple[Tensor, Tensor]:
            if str(i) not in self.bscs:
                return x, x
            x, out, words[0] = self.bscs[str(i)](x, hw_shape, words[0], text_mask)
            return x, out

        outs = self._stages_forward(x, fuse)
        if return_text:
            return outs, (words[0], text_mask)
        return outs
