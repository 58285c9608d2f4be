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
