# Copyright (c) mmrrsis contributors. All rights reserved.
from .lang_fusion_neck import LanguageFusionNeck

__all__ = ['LanguageFusionNeck']
