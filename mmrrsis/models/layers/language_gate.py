# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import Optional

import torch.nn as nn
from mmcv.cnn import build_activation_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType


@MODELS.register_module()
class LanguageGate(BaseModule):
    """Language gate of LAVT: ``identity + tanh(W2 relu(W1 F)) * F``.

    The gate decides per token and channel how much of the fused features F flows back into
    the visual stream. Without ``identity`` the gated features ``S * F`` alone are returned
    (FIANet's gated context branch, BTDNet's text update).

    Paper: `LAVT <https://arxiv.org/abs/2112.02244>`_ (``res_gate`` in yz93/LAVT-RIS).

    Args:
        channels (int): Channels of F.
        hidden_channels (int, optional): Width of the hidden layer. Defaults to ``channels``.
        bias (bool): Bias of both linear layers. Defaults to False (LAVT).
        act_cfg (dict): Hidden activation. Defaults to ``dict(type='ReLU')``.
        gate_act_cfg (dict): Gate activation. Defaults to ``dict(type='Tanh')``.
        init_cfg (dict | list[dict], optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 channels: int,
                 hidden_channels: Optional[int] = None,
                 bias: bool = False,
                 act_cfg: ConfigType = dict(type='ReLU'),
                 gate_act_cfg: ConfigType = dict(type='Tanh'),
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        hidden_channels = hidden_channels or channels
        self.channels = channels
        self.gate = nn.Sequential(
            nn.Linear(channels, hidden_channels, bias=bias), build_activation_layer(act_cfg),
            nn.Linear(hidden_channels, channels, bias=bias), build_activation_layer(gate_act_cfg))

    def forward(self, fused: Tensor, identity: Optional[Tensor] = None) -> Tensor:
        """Gate the fused features and optionally add them to the visual stream.

        Args:
            fused (Tensor): Fused features F, channels last: (B, N, C) (or (..., C)).
            identity (Tensor, optional): The stream F is added to, same shape as ``fused``.

        Returns:
            Tensor: ``identity + S * F``, or ``S * F`` without ``identity``; shape of ``fused``.
        """
        gated = self.gate(fused) * fused
        return gated if identity is None else identity + gated
