# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import Optional

import mmcv
import numpy as np
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

from .draw import draw_referring_overlay


def _mask_of(data_sample: SegDataSample, key: str) -> Optional[np.ndarray]:
    if key not in data_sample:
        return None
    data = getattr(data_sample, key).data
    return (data.squeeze(0).cpu().numpy() == 1).astype(np.uint8)


@VISUALIZERS.register_module()
class RRSISVisualizer(SegLocalVisualizer):
    """Draws a referring sample: the image, predicted and/or true mask and the expression.

    Usable wherever MMSeg's ``SegLocalVisualizer`` is (``SegVisualizationHook``,
    ``tools/test.py --show-dir``): the prediction is filled, the ground truth outlined, the
    expression (``data_sample.text``) and the sample's IoU written under the image. When the
    masks are at the network input resolution (the paper protocol) and the image at its original
    size, the image is resized to the masks.
    """

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       with_labels: Optional[bool] = True) -> None:
        """Draw ``data_sample`` on ``image`` (RGB, (H, W, 3)) and save or show it."""
        gt = _mask_of(data_sample, 'gt_sem_seg') if (data_sample is not None
                                                      and draw_gt) else None
        pred = _mask_of(data_sample, 'pred_sem_seg') if (data_sample is not None
                                                          and draw_pred) else None
        shape = next((m.shape for m in (pred, gt) if m is not None), image.shape[:2])
        if image.shape[:2] != shape:
            image = mmcv.imresize(image, (shape[1], shape[0]), interpolation='bilinear')
        text = data_sample.metainfo.get('text', '') if data_sample is not None else ''
        extra = None
        if gt is not None and pred is not None:
            union = np.logical_or(gt, pred).sum()
            iou = np.logical_and(gt, pred).sum() / union if union else 0.0
            extra = f'IoU {iou:.2f}'
        if pred is not None:
            drawn = draw_referring_overlay(image, gt, text, pred_mask=pred, extra_text=extra)
        else:
            drawn = draw_referring_overlay(image, gt, text, extra_text=extra)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn), out_file)
        else:
            self.add_image(name, drawn, step)
