# Copyright (c) mmrrsis contributors. All rights reserved.
from .bsc_neck import BSCNeck
from .cim_neck import CIMNeck
from .lang_fusion_neck import LanguageFusionNeck
from .lgce_neck import LGCENeck
from .tmem_neck import TMEMNeck

__all__ = ['BSCNeck', 'CIMNeck', 'LanguageFusionNeck', 'LGCENeck', 'TMEMNeck']
