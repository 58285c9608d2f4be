# Copyright (c) mmrrsis contributors. All rights reserved.
import inspect
from typing import Dict, List, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptMultiConfig

#: keyword arguments a language-aware neck may take, in the order the segmentors pass them
_TEXT_KEYS = ('text_feats', 'text_mask', 'object_feats', 'object_mask', 'position_feats',
              'position_mask')


@MODELS.register_module()
class SequentialNeck(BaseModule):
    """Several necks applied one after the other, each given the texts it takes.

    ``outs = neck_n(... neck_2(neck_1(inputs, text), text) ..., text)``. Each sub-neck
    receives, of ``text_feats``/``text_mask`` and FIANet's decoupled ``object_*`` /
    ``position_*`` texts, exactly the keyword arguments its ``forward`` declares, so a late
    fusion neck (e.g. :class:`LanguageFusionNeck`) can be followed by a language-guided neck
    (e.g. :class:`LGCENeck`, :class:`TMEMNeck`) or a plain MMSeg neck. Used to put LGCE's and
    FIANet's language-guided parts on a plain backbone with the same late fusion as LAVT's
    row of the BTDNet ladder (``configs/btdnet/README.md``).

    Args:
        necks (Sequence[dict]): Configs of the necks, applied in order. At least one.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.
    """

    def __init__(self, necks: Sequence[ConfigType], init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not necks:
            raise ValueError('SequentialNeck needs at least one neck config in `necks`')
        self.necks = nn.ModuleList(MODELS.build(cfg) for cfg in necks)
        self._keys: List[Tuple[str, ...]] = [
            tuple(k for k in _TEXT_KEYS if k in inspect.signature(n.forward).parameters)
            for n in self.necks
        ]

    def forward(self,
                inputs: Sequence[Tensor],
                text_feats: Optional[Tensor] = None,
                text_mask: Optional[Tensor] = None,
                object_feats: Optional[Tensor] = None,
                object_mask: Optional[Tensor] = None,
                position_feats: Optional[Tensor] = None,
                position_mask: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """Apply the necks in order.

        Args:
            inputs (Sequence[Tensor]): Backbone outputs, each (B, C_i, H_i, W_i).
            text_feats (Tensor, optional): (B, L, C_t).
            text_mask (Tensor, optional): (B, L), 1 for real tokens.
            object_feats, object_mask, position_feats, position_mask (Tensor, optional):
                FIANet's decoupled texts (given by a ``FIANetEncoderDecoder``).

        Returns:
            tuple[Tensor]: The last neck's outputs.
        """
        given: Dict[str, Optional[Tensor]] = dict(
            text_feats=text_feats, text_mask=text_mask, object_feats=object_feats,
            object_mask=object_mask, position_feats=position_feats,
            position_mask=position_mask)
        x = tuple(inputs)
        for neck, keys in zip(self.necks, self._keys):
            missing = [k for k in keys if k in ('text_feats', 'object_feats') and
                       given[k] is None]
            if missing:
                raise ValueError(f'{type(neck).__name__} inside SequentialNeck needs '
                                 f'{missing}, which the segmentor did not give')
            x = tuple(neck(x, **{k: given[k] for k in keys}))
        return x
