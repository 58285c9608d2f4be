# Copyright (c) mmrrsis contributors. All rights reserved.
from .channels_last_hook import ChannelsLastHook
from .progress_bar_hook import TrainProgressBarHook

__all__ = ['ChannelsLastHook', 'TrainProgressBarHook']
