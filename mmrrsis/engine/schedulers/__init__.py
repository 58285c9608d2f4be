# Copyright (c) mmrrsis contributors. All rights reserved.
from .poly_lr import ExactPolyLR

__all__ = ['ExactPolyLR']
