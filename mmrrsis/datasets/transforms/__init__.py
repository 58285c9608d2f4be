# Copyright (c) mmrrsis contributors. All rights reserved.
from .formatting import RRSIS_META_KEYS, PackRRSISInputs
from .loading import (LoadRRSISAnnotations, LoadRRSISImageFromFile,
                      decode_refer_segmentation, load_refsegrs_mask)
from .transforms import RandomBlackBoxes, RandomTextFlip, SetOriShapeToImgShape

__all__ = [
    'RRSIS_META_KEYS', 'PackRRSISInputs', 'LoadRRSISAnnotations', 'LoadRRSISImageFromFile',
    'decode_refer_segmentation', 'load_refsegrs_mask', 'RandomBlackBoxes', 'RandomTextFlip',
    'SetOriShapeToImgShape'
]
