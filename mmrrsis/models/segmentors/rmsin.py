# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import List

from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType

from .rrsis_encoder_decoder import RRSISEncoderDecoder


def swin_stage_widths(backbone: ConfigType) -> List[int]:
    """Channels of a Swin backbone's stages: ``embed_dims * 2**i`` for each stage."""
    embed = backbone.get('embed_dims', 96)
    return [int(embed * 2**i) for i in range(len(backbone.get('depths', (2, 2, 6, 2))))]


@MODELS.register_module()
class RMSINEncoderDecoder(RRSISEncoderDecoder):
    """RMSIN: ``RMSINSwinTransformer`` (intra-scale interaction) -> ``CIMNeck`` (cross-scale
    interaction) -> ``RMSINHead`` (adaptive rotated convolutions), texts encoded once.

    Every width inside RMSIN's own modules follows the backbone: a neck or head
    ``in_channels=None`` becomes the Swin stage widths (``embed_dims * 2**i``), a head
    ``channels=None`` half the last width (512 for Swin-B), so that
    ``--cfg-options model.backbone.embed_dims=96`` gives a consistent model.

    Paper: `RMSIN <https://arxiv.org/abs/2312.12470>`_.

    Args:
        backbone, decode_head, text_encoder, neck: As :class:`RRSISEncoderDecoder`.
        **kwargs: Other :class:`RRSISEncoderDecoder` arguments.
    """

    def __init__(self, backbone: ConfigType, decode_head: ConfigType, text_encoder: ConfigType,
                 neck: OptConfigType = None, **kwargs) -> None:
        widths = swin_stage_widths(backbone)
        if neck is not None and neck.get('in_channels') is None:
            neck = dict(neck, in_channels=widths)
        decode_head = dict(decode_head)
        if decode_head.get('in_channels') is None:
            decode_head['in_channels'] = widths
        if decode_head.get('channels') is None:
            decode_head['channels'] = widths[-1] // 2
        super().__init__(backbone=backbone, decode_head=decode_head, text_encoder=text_encoder,
                         neck=neck, **kwargs)
