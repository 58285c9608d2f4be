# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import Sequence

from mmseg.registry import MODELS
from .lavt_head import LAVTHead


@MODELS.register_module()
class RMSINHead(LAVTHead):
    """RMSIN's oriented-aware decoder: LAVT's ``SimpleDecoding`` whose second 3x3 conv of every
    fusion step is an :class:`AdaptiveRotatedConv2d` (one kernel rotated by a per-sample angle,
    ``|theta| < 40`` degrees, and scaled by a per-sample weight, both routed from the input)::

        Y_k = ReLU(BN(ARC(ReLU(BN(Conv3x3(cat[up(Y_{k+1}), F_k]))))))

    Paper: `RMSIN <https://arxiv.org/abs/2312.12470>`_ (``lib/mask_predictor.py``, ``arc/``).
    The upsampling is to the next level's size (the reference's ``scale_factor=2`` is the same
    at 480x480).

    Args:
        in_channels (Sequence[int]): Channels of the levels, finest first.
        channels (int): Hidden width (512 for Swin-B, ``c4 // 2``).
        kernel_number (int): Kernels per ARC. Defaults to 1 (RMSIN).
        routing_dropout (float): Dropout of the routing function. Defaults to 0.2.
        max_angle (float): Largest rotation in degrees. Defaults to 40.
        **kwargs: Other :class:`LAVTHead` arguments.
    """

    def __init__(self, in_channels: Sequence[int], channels: int, kernel_number: int = 1,
                 routing_dropout: float = 0.2, max_angle: float = 40.0, **kwargs) -> None:
        kwargs.setdefault('second_conv_cfg', dict(
            type='AdaptiveRotatedConv2d', kernel_number=kernel_number, dropout=routing_dropout,
            proportion=max_angle))
        super().__init__(in_channels=in_channels, channels=channels, **kwargs)
