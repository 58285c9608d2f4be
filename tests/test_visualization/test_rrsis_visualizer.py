# Copyright (c) mmrrsis contributors. All rights reserved.
import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample
from PIL import Image


def test_visualizer_draws_masks_and_text(tmp_path):
    vis = VISUALIZERS.build(dict(type='RRSISVisualizer', name='vis_test',
                                 vis_backends=[dict(type='LocalVisBackend')],
                                 save_dir=str(tmp_path)))
    sample = SegDataSample(metainfo=dict(text='the small red car on the left'))
    gt = torch.zeros(1, 32, 32, dtype=torch.long)
    gt[:, 4:12, 4:12] = 1
    pred = torch.zeros(1, 32, 32, dtype=torch.long)
    pred[:, 4:12, 6:14] = 1
    sample.gt_sem_seg = PixelData(data=gt)
    sample.pred_sem_seg = PixelData(data=pred)
    image = np.full((64, 64, 3), 120, np.uint8)  # original size: resized to the masks
    out_file = tmp_path / 'out.png'
    vis.add_datasample('s', image, sample, out_file=str(out_file))
    drawn = np.asarray(Image.open(out_file))
    assert drawn.shape[1] >= 32 and drawn.shape[0] > drawn.shape[1]  # caption bar below
    assert not (drawn == 120).all()


def test_overlay_is_bounded_in_size_and_time():
    """A 4096x1 strip (was 1,048,599 x 256 pixels), an 8000x8000 scene and a 100,000-character
    expression without spaces (was 425 s of word wrap) give bounded pictures quickly."""
    import time

    from mmrrsis.visualization.draw import (MAX_CAPTION_LINES, draw_referring_overlay)
    strip = np.zeros((4096, 1, 3), np.uint8)
    out = draw_referring_overlay(strip, np.ones((4096, 1), np.uint8), 'a road')
    assert out.shape[0] <= 2048 + 400 and out.shape[1] <= 2048
    big = np.zeros((8000, 8000, 3), np.uint8)
    mask = np.zeros((8000, 8000), np.uint8)
    mask[1000:3000, 2000:5000] = 1
    out = draw_referring_overlay(big, mask, 'the tank', pred_mask=mask)
    assert max(out.shape[:2]) <= 2048 + 400
    # the mask is drawn at the shrunk scale (top-left corner of the fill: 1000 / 4 = 250)
    assert (out[250:260, 500:510] != 0).any() and (out[:240, :480] == 0).all()
    start = time.perf_counter()
    out = draw_referring_overlay(np.zeros((64, 64, 3), np.uint8), None, 'x' * 100_000)
    assert time.perf_counter() - start < 5
    line_h = 14
    assert out.shape[0] <= 256 + (MAX_CAPTION_LINES + 1) * line_h + 20
