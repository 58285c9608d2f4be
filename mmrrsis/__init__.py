# Copyright (c) mmrrsis contributors. All rights reserved.
"""mmrrsis: Referring Remote Sensing Image Segmentation on MMSegmentation 1.x.

``import mmrrsis`` registers every component into MMSeg's registries.
"""
from .utils.dependency import check_mm_versions
from .version import __version__, version_info

check_mm_versions()  # a clear ImportError naming the fix instead of mmseg's assert

from . import datasets, engine, evaluation, models, visualization  # noqa: E402,F401
from .utils.checkpoint import register_safe_globals  # noqa: E402

register_safe_globals()  # Runner checkpoints load with torch's weights_only unpickler

__all__ = ['__version__', 'version_info']
