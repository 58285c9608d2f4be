# Copyright (c) mmrrsis contributors. All rights reserved.
import inspect
from typing import Dict, Optional

import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from ..text_encoders.decoupled_text_encoder import DecoupledText, decoupled_kwargs
from .rrsis_encoder_decoder import RRSISEncoderDecoder, TextFeats


def takes_decoupled_text(module: Optional[nn.Module]) -> bool:
    """Whether ``module.forward`` accepts FIANet's ``object_feats`` (and the other texts)."""
    if module is None:
        return False
    return 'object_feats' in inspect.signature(module.forward).parameters


@MODELS.register_module()
class FIANetEncoderDecoder(RRSISEncoderDecoder):
    """FIANet's referring segmentor: one text-encoder call yields three texts.

    The text encoder must be a :class:`~mmrrsis.models.text_encoders.DecoupledTextEncoder`:
    it encodes the context, ground-object and spatial-position texts of the batch in a single
    (3B, L) call and returns a :class:`DecoupledText`. Every component taking ``text_feats``
    gets the context text (``text_feats (B, L, C)``, ``text_mask (B, L)``) as in
    :class:`RRSISEncoderDecoder`; components whose ``forward`` also takes ``object_feats``
    (the FIAM backbone) additionally get ``object_feats``, ``object_mask``,
    ``position_feats`` and ``position_mask`` (same shapes).

    Paper: `Exploring Fine-Grained Image-Text Alignment for Referring Remote Sensing Image
    Segmentation <https://arxiv.org/abs/2409.13637>`_ (FIANet; BERT runs three times on the
    same ids there, here once on the stacked batch, with the same result).

    Args:
        Same as :class:`RRSISEncoderDecoder`.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not hasattr(self.text_encoder, 'decouple'):
            raise TypeError('FIANetEncoderDecoder needs a text encoder that decouples the '
                            "expression, e.g. dict(type='DecoupledTextEncoder', ...), got "
                            f'{type(self.text_encoder).__name__}')

    @staticmethod
    def _text_kwargs(module: Optional[nn.Module], text: TextFeats) -> Dict[str, Tensor]:
        kwargs = RRSISEncoderDecoder._text_kwargs(module, text)
        if kwargs and takes_decoupled_text(module):
            kwargs.update(decoupled_kwargs(text))
        return kwargs


__all__ = ['FIANetEncoderDecoder', 'DecoupledText', 'takes_decoupled_text']
