# Copyright (c) mmrrsis contributors. All rights reserved.
from .channels_last_hook import ChannelsLastHook
from .nonfinite_loss_hook import NonFiniteLossHook
from .progress_bar_hook import TrainProgressBarHook
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = ['ChannelsLastHook', 'NonFiniteLossHook', 'SafeCheckpointHook', 'TrainProgressBarHook']
