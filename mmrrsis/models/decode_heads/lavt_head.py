# Copyright (c) mmrrsis contributors. All rights reserved.
import warnings
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import OptConfigType

# mmseg's resize() warns on every align_corners=True upsampling whose sizes are not `x+1`;
# LAVT upsamples 2x / 4x with align_corners=True on purpose (reference parity).
warnings.filterwarnings('ignore', message='When align_corners=True, the output would more')


@MODELS.register_module()
class LAVTHead(BaseDecodeHead):
    """Progressive top-down decoder of LAVT (``SimpleDecoding``).

    Starting from the coarsest map, each step upsamples the running feature to the next
    finer level, concatenates that level and applies two 3x3 Conv-BN-ReLU::

        Y4 = F4
        Y3 = rho3(cat[up(Y4), F3]);  Y2 = rho2(cat[up(Y3), F2]);  Y1 = rho1(cat[up(Y2), F1])
        logits = Conv1x1(Y1)                       # at the finest level, 1/4 resolution

    Bilinear upsampling uses ``align_corners`` (True in LAVT), also when
    :class:`BaseDecodeHead` resizes the logits to the label (``loss_by_feat``) or the input
    (``predict_by_feat``), which is LAVT's final x4 upsampling.

    Paper: `LAVT: Language-Aware Vision Transformer for Referring Image Segmentation
    <https://arxiv.org/abs/2112.02244>`_ (``lib/mask_predictor.py`` in yz93/LAVT-RIS).

    Args:
        in_channels (Sequence[int]): Channels of the input maps, finest first, e.g.
            ``[128, 256, 512, 1024]`` for Swin-B.
        channels (int): Hidden width of every fusion step (512 in LAVT, ``c4 // 2``).
        num_classes (int): Number of classes. Defaults to 2 (background, target).
        in_index (Sequence[int]): Selected inputs, finest first. Defaults to (0, 1, 2, 3).
        input_transform (str): Defaults to ``'multiple_select'``.
        dropout_ratio (float): Dropout before the classifier. Defaults to 0 (LAVT has none).
        norm_cfg (dict): Norm of the fusion convolutions. Defaults to
            ``dict(type='BN', requires_grad=True)``.
        align_corners (bool): ``align_corners`` of every bilinear resize. Defaults to True.
        second_conv_cfg (dict, optional): ``conv_cfg`` of the second 3x3 conv of every
            fusion step (RMSIN: ``dict(type='AdaptiveRotatedConv2d')``). Defaults to None,
            the head's ``conv_cfg``.
        init_mode (str): ``'mmseg'``: mmcv's ``ConvModule`` initialisation (kaiming normal,
            fan-out) and ``conv_seg`` N(0, 0.01), as MMSeg's heads; ``'pytorch'``: PyTorch's
            defaults for every plain ``nn.Conv2d`` and norm of the head, ``conv_seg``
            included, as the official ``SimpleDecoding`` (``lib/mask_predictor.py``; about 4x
            smaller std than kaiming fan-out). Custom convolutions (RMSIN's rotated conv)
            keep their own. Defaults to ``'mmseg'``; the paper configs use ``'pytorch'``.
        **kwargs: Other arguments of :class:`BaseDecodeHead` (``loss_decode``,
            ``act_cfg``, ``out_channels``, ``threshold``, ``init_cfg`` ...).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int,
                 num_classes: int = 2,
                 in_index: Sequence[int] = (0, 1, 2, 3),
                 input_transform: str = 'multiple_select',
                 dropout_ratio: float = 0.0,
                 norm_cfg: OptConfigType = dict(type='BN', requires_grad=True),
                 align_corners: bool = True,
                 second_conv_cfg: OptConfigType = None,
                 init_mode: str = 'mmseg',
                 **kwargs) -> None:
        if init_mode not in ('mmseg', 'pytorch'):
            raise ValueError(f"init_mode must be 'mmseg' or 'pytorch', got {init_mode!r}")
        self.init_mode = init_mode
        if input_transform != 'multiple_select':
            raise ValueError("LAVTHead fuses several levels: use input_transform="
                             "'multiple_select'.")
        super().__init__(
            in_channels=list(in_channels),
            channels=channels,
            num_classes=num_classes,
            in_index=list(in_index),
            input_transform=input_transform,
            dropout_ratio=dropout_ratio,
            norm_cfg=norm_cfg,
            align_corners=align_corners,
            **kwargs)
        if len(self.in_channels) == 1 and self.in_channels[0] != channels:
            raise ValueError('with a single input level, channels must equal in_channels.')
        # fuse_layers[k] merges the running feature into level k (finest = 0), coarse to fine.
        self.fuse_layers = nn.ModuleList()
        for k in range(len(self.in_channels) - 1):
            running = self.in_channels[-1] if k == len(self.in_channels) - 2 else channels
            self.fuse_layers.append(
                nn.Sequential(
                    self._conv3x3(running + self.in_channels[k], channels),
                    self._conv3x3(channels, channels, second_conv_cfg or self.conv_cfg)))

    def init_weights(self) -> None:
        """MMSeg's initialisation; with ``init_mode='pytorch'`` then PyTorch's defaults for
        the plain convolutions and norms (as the official decoder builds them)."""
        super().init_weights()
        if self.init_mode == 'pytorch':
            for m in self.modules():
                if type(m) in (nn.Conv2d, nn.BatchNorm2d, nn.SyncBatchNorm, nn.GroupNorm,
                               nn.LayerNorm):
                    m.reset_parameters()

    def _conv3x3(self, in_channels: int, out_channels: int,
                 conv_cfg: OptConfigType = None) -> ConvModule:
        return ConvModule(
            in_channels,
            out_channels,
            kernel_size=3,
            padding=1,
            conv_cfg=conv_cfg or self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)

    def _forward_feature(self, inputs: List[Tensor]) -> Tensor:
        """Decode the selected maps into the finest-level feature Y1.

        Args:
            inputs (list[Tensor]): Backbone/neck outputs; after ``in_index`` selection
                (B, C_k, H_k, W_k), finest first.

        Returns:
            Tensor: (B, channels, H_0, W_0).
        """
        feats = self._transform_inputs(inputs)
        x = feats[-1]
        for k in range(len(feats) - 2, -1, -1):
            skip = feats[k]
            # LAVT upsamples only when the running map is smaller than the skip.
            if x.shape[2:] != skip.shape[2:]:
                x = resize(x, size=skip.shape[2:], mode='bilinear',
                           align_corners=self.align_corners)
            x = self.fuse_layers[k](torch.cat([x, skip], dim=1))
        return x

    def forward(self, inputs: Tuple[Tensor, ...]) -> Tensor:
        """Forward.

        Args:
            inputs (tuple[Tensor]): Multi-level maps (B, C_k, H_k, W_k), finest first.

        Returns:
            Tensor: Logits (B, out_channels, H_0, W_0), 1/4 of the input for Swin.
        """
        return self.cls_seg(self._forward_feature(inputs))

