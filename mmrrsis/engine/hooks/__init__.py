# Copyright (c) mmrrsis contributors. All rights reserved.
from .progress_bar_hook import TrainProgressBarHook

__all__ = ['TrainProgressBarHook']
