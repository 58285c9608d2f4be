# Copyright (c) mmrrsis contributors. All rights reserved.
from .draw import draw_referring_overlay
from .rrsis_visualizer import RRSISVisualizer

__all__ = ['draw_referring_overlay', 'RRSISVisualizer']
