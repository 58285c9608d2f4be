# Copyright (c) mmrrsis contributors. All rights reserved.
from .draw import draw_referring_overlay

__all__ = ['draw_referring_overlay']
