# Copyright (c) mmrrsis contributors. All rights reserved.
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Store the model's 4-D weights in the channels-last memory format before running.

    oneDNN (CPU) and cuDNN run 2-D convolutions faster on NHWC tensors; a convolution
    whose weight is channels-last also returns channels-last activations, so converting the
    weights converts the whole convolutional path. Values, parameter names and checkpoints
    do not change (a checkpoint saved from a converted model loads into a plain one).
    Measured on the CPU demo (ResNet-18 + LanguageFusionNeck, batch 16 at 128x128):
    about 10% less time per training step; see ``configs/lavt/README.md``.
    """

    priority = 'VERY_HIGH'

    @staticmethod
    def _convert(runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if isinstance(model, nn.Module):
            model.to(memory_format=torch.channels_last)

    def before_train(self, runner) -> None:
        self._convert(runner)

    def before_val(self, runner) -> None:
        self._convert(runner)

    def before_test(self, runner) -> None:
        self._convert(runner)
