# Copyright (c) mmrrsis contributors. All rights reserved.
from .dice_loss import RefDiceLoss

__all__ = ['RefDiceLoss']
