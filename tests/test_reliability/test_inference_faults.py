# Copyright (c) mmrrsis contributors. All rights reserved.
"""Fault suite, inference: bad inputs are refused up front, saying what is accepted."""
import numpy as np
import pytest
from mmengine.config import Config

from mmrrsis.apis import RRSISInferencer
from mmrrsis.testing import make_tiny_bert, tiny_segmentor_cfg


@pytest.fixture(scope='module')
def inferencer(tmp_path_factory):
    root = tmp_path_factory.mktemp('infer_faults')
    cfg = Config(dict(
        default_scope='mmseg', model=tiny_segmentor_cfg(make_tiny_bert(str(root / 'bert'))),
        test_dataloader=dict(dataset=dict(type='RefSegRSDataset', pipeline=[
            dict(type='LoadRRSISImageFromFile'),
            dict(type='Resize', scale=(64, 64), keep_ratio=False, backend='pillow'),
            dict(type='PackRRSISInputs')]))))
    return RRSISInferencer(cfg)


GOOD = np.zeros((40, 50, 3), np.uint8)


@pytest.mark.parametrize('image,texts,error,words', [
    (np.zeros((40, 50, 4), np.uint8), 'x', ValueError, ['(40, 50, 4)', 'RGBA', 'uint8 BGR']),
    (np.zeros((40, 50), np.uint8), 'x', ValueError, ['(40, 50)', 'grey']),
    (np.zeros((40, 50, 3), np.float32), 'x', ValueError, ['float32', 'uint8']),
    (GOOD, None, TypeError, ['texts is None']),
    (None, 'x', TypeError, ['images is None']),
    (GOOD, ['a', 3], TypeError, ['expression 1', 'int']),
    ([GOOD, GOOD], ['a', 'b', 'c'], ValueError, ['2 images but 3 expressions']),
    ('/no/such/image.tif', 'x', FileNotFoundError, ['/no/such/image.tif']),
    (42, 'x', TypeError, ['int', 'file paths']),
])
def test_bad_inputs_are_refused_up_front(inferencer, image, texts, error, words):
    with pytest.raises(error) as err:
        inferencer(image, texts)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_empty_and_very_long_expressions_still_predict(inferencer):
    out = inferencer([GOOD, GOOD], ['', 'the car ' * 2500])
    assert [m.shape for m in out['masks']] == [(40, 50), (40, 50)]
