# Copyright (c) mmrrsis contributors. All rights reserved.
import copy

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmrrsis.testing import (make_tiny_bert, text_features_zeros, tiny_segmentor_cfg,
                             tmem_zeros)
from mmrrsis.testing import assert_every_parameter_learns


@pytest.fixture(scope='module')
def tiny_text(tmp_path_factory):
    return make_tiny_bert(str(tmp_path_factory.mktemp('tiny_bert')))


def fianet_cfg(text_dir):
    cfg = tiny_segmentor_cfg(text_dir)
    cfg.type = 'FIANetEncoderDecoder'
    cfg.text_encoder.type = 'DecoupledTextEncoder'
    cfg.text_encoder.object_categories = 'synth'
    cfg.backbone.type = 'FIANetSwinTransformer'
    cfg.backbone.channel_ratio = 2  # ratio 8 leaves 2 hidden units at 16 channels
    cfg.neck = ConfigDict(type='TMEMNeck', in_channels=[16, 32, 64, 128], text_channels=32,
                          num_blocks=1)
    cfg.decode_head.loss_decode = [
        dict(type='CrossEntropyLoss', class_weight=[0.9, 1.1], loss_weight=0.9),
        dict(type='RefDiceLoss', loss_weight=0.1)
    ]
    return cfg


def lgce_cfg(text_dir):
    cfg = tiny_segmentor_cfg(text_dir)
    cfg.neck = ConfigDict(type='LGCENeck', in_channels=[16, 32, 64, 128], text_channels=32,
                          num_heads=4)
    return cfg


def _batch(texts, size=(64, 64)):
    samples = []
    for i, text in enumerate(texts):
        s = SegDataSample(metainfo=dict(img_shape=size, ori_shape=size, pad_shape=size,
                                        text=text, ref_id=i, sent_id=i))
        gt = torch.zeros(1, *size, dtype=torch.long)
        gt[:, 10:30, 20:40] = 1
        s.gt_sem_seg = PixelData(data=gt)
        samples.append(s)
    inputs = [torch.randint(0, 256, (3, *size), dtype=torch.uint8) for _ in texts]
    return dict(inputs=inputs, data_samples=samples)


TEXTS = ['the storage tank on the left', 'the red vehicle at the top']


@pytest.mark.parametrize('make_cfg', [fianet_cfg, lgce_cfg], ids=['fianet', 'lgce'])
def test_loss_reaches_every_trainable_parameter(tiny_text, make_cfg):
    torch.manual_seed(0)
    model = MODELS.build(make_cfg(tiny_text))
    model.init_weights()
    model.train()
    losses = model(**model.data_preprocessor(_batch(TEXTS), True), mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    # the tiny BERT has 2 layers; FIANet's TMEM has 1 block here
    zeros = {**text_features_zeros(r'text_encoder\.model\.', 1),
             **tmem_zeros(r'neck\.', len(model.neck.blocks))} if make_cfg is fianet_cfg else {}
    assert_every_parameter_learns(model.named_parameters(), zeros)
    if make_cfg is fianet_cfg:
        assert {'decode.loss_ce', 'decode.loss_dice'} <= set(losses)


def test_fianet_one_text_encoder_call_per_forward(tiny_text, monkeypatch):
    model = MODELS.build(fianet_cfg(tiny_text))
    model.init_weights()
    calls = []
    orig = model.text_encoder.model.forward
    monkeypatch.setattr(model.text_encoder.model, 'forward',
                        lambda *a, **k: calls.append(k['input_ids'].shape[0]) or orig(*a, **k))
    model.train()
    model(**model.data_preprocessor(_batch(TEXTS), True), mode='loss')
    assert calls == [6]  # one call on the (3B, L) batch
    calls.clear()
    model.eval()
    data = model.data_preprocessor(_batch(TEXTS), False)
    with torch.no_grad():
        out = model(**data, mode='predict')
        logits = model(data['inputs'], data['data_samples'], mode='tensor')
    assert calls == [6, 6] and out[0].pred_sem_seg.shape == (64, 64)
    assert logits.shape == (2, 2, 16, 16)


def test_fianet_object_and_position_texts_reach_the_prediction(tiny_text):
    model = MODELS.build(fianet_cfg(tiny_text))
    model.init_weights()
    model.eval()
    data = model.data_preprocessor(_batch(['the storage tank on the left']), False)
    with torch.no_grad():
        text = model.text_encoder(['the storage tank on the left'])
        base = model.extract_feat(data['inputs'], text)
        other = model.extract_feat(data['inputs'],
                                   text._replace(object_feats=text.object_feats + 1))
        moved = model.extract_feat(data['inputs'],
                                   text._replace(position_feats=text.position_feats + 1))
    assert not torch.allclose(base[-1], other[-1])
    assert not torch.allclose(base[-1], moved[-1])


def test_fianet_needs_the_decoupled_encoder(tiny_text):
    cfg = fianet_cfg(tiny_text)
    cfg.text_encoder.type = 'HFTextEncoder'
    cfg.text_encoder.pop('object_categories')
    with pytest.raises(TypeError, match='DecoupledTextEncoder'):
        MODELS.build(cfg)
    # a plain segmentor with the FIAM backbone fails with a clear message too
    cfg = fianet_cfg(tiny_text)
    cfg.type = 'RRSISEncoderDecoder'
    model = MODELS.build(copy.deepcopy(cfg))
    with pytest.raises(ValueError, match='decoupled'):
        model(**model.data_preprocessor(_batch(TEXTS), True), mode='loss')
