# Copyright (c) mmrrsis contributors. All rights reserved.
from .bsc_neck import BSCNeck
from .cim_neck import CIMNeck
from .fiam_fusion_neck import FIAMFusionNeck
from .lang_fusion_neck import LanguageFusionNeck
from .lgce_neck import LGCENeck
from .sequential_neck import SequentialNeck
from .tmem_neck import TMEMNeck

__all__ = ['BSCNeck', 'CIMNeck', 'FIAMFusionNeck', 'LanguageFusionNeck', 'LGCENeck',
           'SequentialNeck', 'TMEMNeck']
