# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS
from ..layers import BidirectionalSpatialCorrelation


@MODELS.register_module()
class BSCNeck(BaseModule):
    """Late BSC fusion over any backbone's pyramid (BTDNet's BSC as a neck).

    The selected levels are visited in ``in_index`` order (finest first by default); each
    gets ``X_i', F_i, L = BSC_i(X_i, L, m)``, so the words updated by one level feed the next
    and, with ``return_text=True``, the decode head. ``out_type='residual'`` returns the gated
    stream ``X_i'`` (the visual features stay), ``'fusion'`` returns ``F_i`` (what a LAVT/BTDNet
    stage hands to its decoder). Other levels pass through unchanged.

    Applying BSC after a plain backbone is an mmrrsis design (the paper fuses inside Swin).

    Args:
        in_channels (Sequence[int]): Channels of the fused levels, one per ``in_index`` entry.
        text_dim (int): Channels C_t of the text features. Defaults to 768.
        in_index (Sequence[int], optional): Positions of the fused levels. Defaults to
            ``range(len(in_channels))``.
        out_type (str): ``'residual'`` or ``'fusion'``. Defaults to ``'residual'``.
        bidirectional (bool | Sequence[bool]): Update the text at each level. Defaults to
            True.
        bsc_cfg (dict, optional): Other :class:`BidirectionalSpatialCorrelation` arguments.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 text_dim: int = 768,
                 in_index: Optional[Sequence[int]] = None,
                 out_type: str = 'residual',
                 bidirectional: Union[bool, Sequence[bool]] = True,
                 bsc_cfg: Optional[dict] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 coord_feats: bool = False,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        in_index = list(range(len(in_channels))) if in_index is None else list(in_index)
        if len(in_index) != len(in_channels):
            raise ValueError(f'in_channels {in_channels} and in_index {in_index} must have '
                             'the same length.')
        if out_type not in ('residual', 'fusion'):
            raise ValueError(f"out_type must be 'residual' or 'fusion', got {out_type!r}.")
        if isinstance(bidirectional, bool):
            bidirectional = [bidirectional] * len(in_channels)
        self.in_channels = list(in_channels)
        self.in_index = in_index
        self.out_type = out_type
        bsc_cfg = dict(bsc_cfg or {})
        if num_heads is not None:
            if len(num_heads) != len(in_channels):
                raise ValueError(f'num_heads {num_heads} needs one value per level '
                                 f'({len(in_channels)})')
            bsc_cfg.pop('num_heads', None)
        heads = list(num_heads) if num_heads is not None else [bsc_cfg.pop('num_heads', 1)] * len(
            in_channels)
        self.bscs = nn.ModuleList(
            BidirectionalSpatialCorrelation(
                channels=c, text_channels=text_dim, bidirectional=bidi, num_heads=h,
                visual_gate=out_type == 'residual', coord_feats=coord_feats, **bsc_cfg)
            for c, bidi, h in zip(in_channels, bidirectional, heads))

    def init_weights(self) -> None:
        super().init_weights()
        for bsc in self.bscs:
            bsc.init_weights()

    def forward(self,
                inputs: Sequence[Tensor],
                text_feats: Tensor,
                text_mask: Optional[Tensor] = None,
                return_text: bool = False) -> Union[Tuple[Tensor, ...], tuple]:
        """Fuse and update the words level by level.

        Args:
            inputs (Sequence[Tensor]): Backbone outputs, each (B, C_i, H_i, W_i).
            text_feats (Tensor): (B, L, C_t).
            text_mask (Tensor, optional): (B, L), 1 for real tokens, 0 for padding.
            return_text (bool): Also return the updated words. Defaults to False.

        Returns:
            tuple: As many maps as ``inputs`` (same shapes); with ``return_text`` the pair
            ``(maps, (text_feats (B, L, C_t), text_mask (B, L)))``.
        """
        outs: List[Tensor] = list(inputs)
        for k, idx in enumerate(self.in_index):
            x = inputs[idx]
            B, C, H, W = x.shape
            tokens = x.flatten(2).transpose(1, 2)  # (B, H*W, C)
            stream, fused, text_feats = self.bscs[k](tokens, (H, W), text_feats, text_mask)
            out = fused if self.out_type == 'fusion' else stream
            outs[idx] = out.transpose(1, 2).reshape(B, C, H, W)
        if return_text:
            return tuple(outs), (text_feats, text_mask)
        return tuple(outs)
