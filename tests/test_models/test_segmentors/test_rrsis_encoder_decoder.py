# Copyright (c) mmrrsis contributors. All rights reserved.
import copy

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmrrsis.testing import make_tiny_bert, text_features_zeros, tiny_segmentor_cfg
from mmrrsis.testing import assert_every_parameter_learns


@pytest.fixture(scope='module')
def tiny_text(tmp_path_factory):
    return make_tiny_bert(str(tmp_path_factory.mktemp('tiny_bert')))


def _batch(n=2, size=(64, 64), ori=(80, 96), texts=None):
    texts = texts or ['the small red car on the left', 'the storage tank near the road',
                      'a big white building', 'the tree at the top']
    inputs = [torch.randint(0, 256, (3, *size), dtype=torch.uint8) for _ in range(n)]
    samples = []
    for i in range(n):
        s = SegDataSample(metainfo=dict(img_shape=size, ori_shape=ori, pad_shape=size,
                                        text=texts[i % len(texts)], ref_id=i, sent_id=i))
        gt = torch.zeros(1, *size, dtype=torch.long)
        gt[:, 10:30, 20:40] = 1
        s.gt_sem_seg = PixelData(data=gt)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def _build(cfg):
    model = MODELS.build(cfg)
    model.init_weights()
    return model


@pytest.mark.parametrize('backbone', ['lavt', 'resnet'])
def test_loss_reaches_every_trainable_parameter(tiny_text, backbone):
    model = _build(tiny_segmentor_cfg(tiny_text, backbone=backbone))
    model.train()
    data = model.data_preprocessor(_batch(), True)
    losses = model(**data, mode='loss')
    assert set(losses) >= {'decode.loss_ce', 'decode.acc_seg'}
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    # the tiny BERT's last layer (1) feeds only PWAM attention
    assert_every_parameter_learns(model.named_parameters(),
                                  text_features_zeros(r'text_encoder\.model\.', 1))
    # the language reaches the loss: gradients flow into the text encoder
    assert any(p.grad is not None for p in model.text_encoder.parameters())


def test_text_changes_the_prediction_and_is_encoded_once(tiny_text, monkeypatch):
    model = _build(tiny_segmentor_cfg(tiny_text))
    model.eval()
    calls = []
    orig = model.text_encoder.forward
    monkeypatch.setattr(model.text_encoder, 'forward',
                        lambda texts: calls.append(list(texts)) or orig(texts))
    data = model.data_preprocessor(_batch(texts=['the red car', 'the red car']), False)
    with torch.no_grad():
        logits_a = model(data['inputs'], data['data_samples'], mode='tensor')
    assert len(calls) == 1
    data_b = copy.deepcopy(data)
    for s in data_b['data_samples']:
        s.set_metainfo(dict(text='the white building at the top'))
    with torch.no_grad():
        logits_b = model(data_b['inputs'], data_b['data_samples'], mode='tensor')
    assert logits_a.shape == (2, 2, 16, 16)
    assert not torch.allclose(logits_a, logits_b)

    # slide inference: several crops, one text encoding
    calls.clear()
    model.test_cfg = ConfigDict(mode='slide', crop_size=(64, 64), stride=(32, 32))
    with torch.no_grad():
        out = model(**model.data_preprocessor(_batch(size=(128, 128)), False), mode='predict')
    assert len(calls) == 1 and out[0].pred_sem_seg.shape == (80, 96)


def test_predict_resolutions(tiny_text):
    model = _build(tiny_segmentor_cfg(tiny_text))
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(_batch(), False), mode='predict')
    assert out[0].pred_sem_seg.shape == (80, 96)  # original size
    assert set(out[0].pred_sem_seg.data.unique().tolist()) <= {0, 1}
    model.test_cfg = ConfigDict(mode='whole', eval_at_input_res=True)  # paper protocol
    with torch.no_grad():
        out = model(**model.data_preprocessor(_batch(), False), mode='predict')
    assert out[0].pred_sem_seg.shape == (64, 64)


def test_missing_text_is_a_clear_error(tiny_text):
    model = _build(tiny_segmentor_cfg(tiny_text))
    data = model.data_preprocessor(_batch(), True)
    for s in data['data_samples']:
        s._metainfo_fields.discard('text')
        delattr(s, 'text')
    with pytest.raises(KeyError, match='PackRRSISInputs'):
        model(**data, mode='loss')
    with pytest.raises(ValueError, match='text'):
        model(data['inputs'], None, mode='tensor')
