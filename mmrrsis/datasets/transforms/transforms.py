# Copyright (c) mmrrsis contributors. All rights reserved.
import zlib
from typing import Tuple

import numpy as np
from mmcv.transforms import BaseTransform, RandomFlip
from mmseg.registry import TRANSFORMS

from mmrrsis.utils.text import swap_spatial_words


@TRANSFORMS.register_module()
class SetOriShapeToImgShape(BaseTransform):
    """Make the network input resolution the evaluation resolution (the paper protocol).

    The reference ``test.py`` of LAVT / RMSIN / FIANet compares the argmax of the 480x480
    logits with the ground truth nearest-resized to 480x480. Put this transform after
    ``Resize`` (which resizes ``gt_seg_map`` with nearest) in the test pipeline: MMSeg's
    ``postprocess_result`` then resizes the logits to ``img_shape`` (an identity) instead of to
    the original size, and ``RRSISMetric`` compares at 480x480.

    Modified keys: ``ori_shape``. Added key: ``orig_ori_shape`` (the file's true size).
    """

    def transform(self, results: dict) -> dict:
        results['orig_ori_shape'] = results.get('ori_shape')
        results['ori_shape'] = tuple(results['img_shape'][:2])
        return results


@TRANSFORMS.register_module()
class RandomTextFlip(RandomFlip):
    """``RandomFlip`` that rewrites the spatial words of ``results['text']`` to match.

    Horizontal flips swap left/right (west/east, leftmost/rightmost ...), vertical flips swap
    top/bottom, upper/lower, north/south, above/below, and diagonal flips both; all occurrences
    are swapped at once and other words ("bright", "upright") are untouched
    (:func:`mmrrsis.utils.text.swap_spatial_words`). The paper recipes use no flip.

    Args: as :class:`mmcv.transforms.RandomFlip` (``prob``, ``direction``).
    """

    def _flip(self, results: dict) -> None:
        super()._flip(results)
        if isinstance(results.get('text'), str):
            results['text'] = swap_spatial_words(results['text'], results['flip_direction'])


@TRANSFORMS.register_module()
class RandomBlackBoxes(BaseTransform):
    """RMSIN's training augmentation: paste random black boxes on a fixed share of the refs.

    The reference picks 20 % of the train refs once (``random.sample``) and pastes 20-60 black
    32x32 boxes on their images at the original resolution on every load; the mask is kept. Here
    the fixed share is chosen by hashing ``ref_id`` with ``seed`` (same refs in every epoch and
    worker), and the boxes are redrawn per call. Put it before ``Resize``.

    Args:
        ref_fraction (float): Share of refs that get boxes. Defaults to 0.2.
        num_boxes (tuple[int, int]): Inclusive range of the box count. Defaults to (20, 60).
        box_size (int): Box side in pixels. Defaults to 32.
        seed (int): Selects the refs. Defaults to 0.
    """

    def __init__(self,
                 ref_fraction: float = 0.2,
                 num_boxes: Tuple[int, int] = (20, 60),
                 box_size: int = 32,
                 seed: int = 0) -> None:
        if not 0.0 <= ref_fraction <= 1.0:
            raise ValueError(f'ref_fraction must be in [0, 1], got {ref_fraction}')
        self.ref_fraction = ref_fraction
        self.num_boxes = num_boxes
        self.box_size = box_size
        self.seed = seed

    def is_selected(self, ref_id) -> bool:
        """Whether the ref with ``ref_id`` belongs to the fixed boxed share."""
        h = zlib.crc32(f'{self.seed}:{ref_id}'.encode()) / 0xFFFFFFFF
        return h < self.ref_fraction

    def transform(self, results: dict) -> dict:
        if not self.is_selected(results.get('ref_id')):
            return results
        img = results['img']
        h, w = img.shape[:2]
        s = self.box_size
        n = np.random.randint(self.num_boxes[0], self.num_boxes[1] + 1)
        ys = np.random.randint(0, max(h - s, 0) + 1, size=n)
        xs = np.random.randint(0, max(w - s, 0) + 1, size=n)
        img = img.copy()
        for y, x in zip(ys, xs):
            img[y:y + s, x:x + s] = 0
        results['img'] = img
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(ref_fraction={self.ref_fraction}, '
                f'num_boxes={self.num_boxes}, box_size={self.box_size}, seed={self.seed})')
