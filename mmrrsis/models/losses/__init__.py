# Copyright (c) mmrrsis contributors. All rights reserved.
from .dice_loss import RefDiceLoss
from .dmols_loss import DMOLSLoss

__all__ = ['DMOLSLoss', 'RefDiceLoss']
