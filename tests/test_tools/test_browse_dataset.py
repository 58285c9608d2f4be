# Copyright (c) mmrrsis contributors. All rights reserved.
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmrrsis.datasets.synthetic import generate_synthetic_dataset
from mmrrsis.visualization import draw_referring_overlay
from mmrrsis.visualization.draw import GT_COLOR, PRED_COLOR

REPO = Path(__file__).resolve().parents[2]
TOOL = str(REPO / 'tools' / 'misc' / 'browse_dataset.py')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('browse')
    generate_synthetic_dataset(str(root), num_images=10, image_size=64,
                               formats=('refsegrs', 'rrsisd'), progress=False)
    return root


@pytest.mark.parametrize('kind', ['refsegrs', 'rrsisd'])
def test_browse_writes_pngs(data, tmp_path, kind):
    out = tmp_path / 'vis'
    res = subprocess.run([sys.executable, TOOL, kind, str(data), '--split', 'train',
                          '--out-dir', str(out), '--num', '3'],
                         capture_output=True, text=True, cwd=str(REPO),
                         env=dict(os.environ, HF_HUB_OFFLINE='1'))
    assert res.returncode == 0, res.stdout + res.stderr
    pngs = sorted(out.glob('*.png'))
    assert len(pngs) == 3
    for p in pngs:
        with Image.open(p) as im:
            # 64 px enlarged 4x to the default minimum width 256, plus the caption bar
            assert im.mode == 'RGB' and im.width == 256 and 256 + 20 < im.height < 256 + 120


def test_draw_referring_overlay():
    img = np.full((20, 30, 3), 100, np.uint8)
    gt = np.zeros((20, 30), np.uint8)
    gt[5:15, 5:15] = 1
    pred = np.zeros((20, 30), bool)
    pred[8:12, 18:25] = True
    long_text = 'the very long referring expression ' * 6
    out = draw_referring_overlay(img, gt, long_text, pred_mask=pred, min_width=60)
    assert out.dtype == np.uint8 and out.shape[1] == 60 and out.shape[2] == 3
    short = draw_referring_overlay(img, gt, 'tank', min_width=60)
    assert out.shape[0] > short.shape[0] > 40  # the long text wraps onto more lines
    # scale 2: prediction filled, ground truth outlined on top
    assert tuple(out[2 * 10, 2 * 20]) != (100, 100, 100)
    assert (out[2 * 10, 2 * 20] - img[0, 0].astype(int)).argmax() == np.argmax(PRED_COLOR)
    assert tuple(out[2 * 5, 2 * 10]) == GT_COLOR  # top edge of the GT square
    assert tuple(out[2 * 10, 2 * 10]) == (100, 100, 100)  # GT inside: unfilled with a pred
    gt_only = draw_referring_overlay(img, gt, 'tank', min_width=10)
    assert gt_only.shape[1] == 30 and tuple(gt_only[10, 10]) != (100, 100, 100)
    with pytest.raises(ValueError):
        draw_referring_overlay(img, gt[:10], 'tank')
