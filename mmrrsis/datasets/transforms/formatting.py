# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import Sequence

from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

#: PackSegInputs' default meta keys plus the referring keys of the data contract.
RRSIS_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                   'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label', 'text',
                   'category', 'ref_id', 'sent_id', 'orig_text', 'no_target', 'num_targets')


@TRANSFORMS.register_module()
class PackRRSISInputs(PackSegInputs):
    """``PackSegInputs`` that also carries ``text``, ``category``, ``ref_id`` and ``sent_id``
    into the data sample's metainfo, where the segmentor reads them (the text is tokenised
    inside the model).

    Args:
        meta_keys (Sequence[str]): Defaults to :data:`RRSIS_META_KEYS`.
    """

    def __init__(self, meta_keys: Sequence[str] = RRSIS_META_KEYS) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        if 'text' not in results:
            raise KeyError(f"PackRRSISInputs: no 'text' in the results of "
                           f"{results.get('img_path')}; the dataset must provide it")
        return super().transform(results)
