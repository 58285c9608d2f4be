# Copyright (c) mmrrsis contributors. All rights reserved.
from unittest import mock

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmrrsis.testing import make_tiny_bert, tiny_segmentor_cfg

TEXTS = ['the small red car on the left', 'the storage tank near the road',
         'the one in the middle', 'a big white building']


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    """Tiny tensors gain nothing from intra-op threads; on a shared CPU they cost 5-10x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def tiny_text(tmp_path_factory):
    return make_tiny_bert(str(tmp_path_factory.mktemp('tiny_bert')))


def _cfg(text_dir, backbone='lavt', dmols=True, **kwargs):
    cfg = tiny_segmentor_cfg(text_dir, backbone=backbone)
    cfg.type = 'BTDNetEncoderDecoder'
    if backbone == 'lavt':
        cfg.backbone.type = 'BSCSwinTransformer'
        cfg.backbone.bsc_cfg = dict(spatial_context='multi_dilation')
    else:
        cfg.neck = dict(type='BSCNeck', in_channels=[16, 32, 64, 128], text_dim=32)
    cfg.decode_head = dict(type='TBTDHead', in_channels=[16, 32, 64, 128], channels=16,
                           text_dim=32, query_heads=2,
                           loss_decode=dict(type='CrossEntropyLoss', class_weight=[0.9, 1.1]))
    if dmols:
        cfg.reconstruct_head = dict(type='EntityReconstructHead', visual_channels=128,
                                    num_heads=2, num_layers=1)
        cfg.p_erase = 1.0
    cfg.update(kwargs)
    return cfg


def _build(cfg):
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def _batch(texts, size=(64, 64)):
    g = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 256, (3, *size), dtype=torch.uint8, generator=g) for _ in texts]
    samples = []
    for i, text in enumerate(texts):
        s = SegDataSample(metainfo=dict(img_shape=size, ori_shape=size, pad_shape=size,
                                        text=text, ref_id=i, sent_id=i))
        gt = torch.zeros(1, *size, dtype=torch.long)
        gt[:, 10:30, 20:40] = 1
        s.gt_sem_seg = PixelData(data=gt)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_every_parameter_gets_a_gradient(tiny_text):
    model = _build(_cfg(tiny_text))
    model.train()
    data = model.data_preprocessor(_batch(TEXTS[:2]), True)
    losses = model(**data, mode='loss')
    assert set(losses) >= {'decode.loss_ce', 'decode.loss_fg', 'decode.loss_bg', 'loss_rec'}
    assert losses['loss_rec'] > 0
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or not torch.any(p.grad != 0))]
    assert not missing, f'no gradient reached: {missing}'


def test_second_pass_encodes_the_erased_text_again(tiny_text):
    model = _build(_cfg(tiny_text, dmols_mode='second_pass'))
    calls = []
    orig = model.text_encoder.encode

    def spy(input_ids, attention_mask, token_type_ids=None):
        calls.append(input_ids.clone())
        return orig(input_ids, attention_mask, token_type_ids)

    data = model.data_preprocessor(_batch(TEXTS[:2]), True)
    with mock.patch.object(model.text_encoder, 'encode', side_effect=spy):
        losses = model(**data, mode='loss')
    mask_id = model.text_encoder.tokenizer.mask_token_id
    assert len(calls) == 2  # segmentation on the original text, reconstruction on the erased
    assert mask_id not in calls[0] and mask_id in calls[1]
    assert losses['loss_rec'] > 0


def test_bsc_neck_over_a_plain_backbone(tiny_text):
    model = _build(_cfg(tiny_text, backbone='resnet', dmols=False))
    model.train()
    losses = model(**model.data_preprocessor(_batch(TEXTS[:2]), True), mode='loss')
    assert 'loss_rec' not in losses
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(p.grad is not None for p in model.neck.parameters())
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(_batch(TEXTS[:2]), False), mode='predict')
    assert out[0].pred_sem_seg.shape == (64, 64)


def test_the_head_gets_the_updated_words(tiny_text):
    model = _build(_cfg(tiny_text, dmols=False)).eval()
    seen = {}
    orig = model.decode_head.predict

    def spy(x, metas, cfg, text_feats, text_mask):
        seen['text'] = text_feats
        return orig(x, metas, cfg, text_feats=text_feats, text_mask=text_mask)

    data = model.data_preprocessor(_batch(TEXTS[:2]), False)
    with mock.patch.object(model.decode_head, 'predict', side_effect=spy), torch.no_grad():
        model(**data, mode='predict')
        encoded, _ = model.text_encoder(TEXTS[:2])
    assert seen['text'].shape == encoded.shape
    assert (seen['text'] - encoded).abs().max() > 0


def test_predict_never_runs_dmols(tiny_text):
    model = _build(_cfg(tiny_text)).eval()
    data = model.data_preprocessor(_batch(TEXTS[:2]), False)
    with mock.patch.object(model.reconstruct_head, 'forward',
                           side_effect=AssertionError('reconstruction in predict')) as rec, \
            mock.patch.object(model, 'tokenize_with_entities',
                              side_effect=AssertionError('erasure in predict')), \
            torch.no_grad():
        out = model(**data, mode='predict')
        logits = model(**data, mode='tensor')
    assert rec.call_count == 0
    assert len(out) == 2 and logits.shape == (2, 2, 16, 16)


def test_erasure_in_training(tiny_text):
    model = _build(_cfg(tiny_text))
    tok = model.text_encoder.tokenizer
    captured = []
    orig = model.text_encoder.encode

    def spy(input_ids, attention_mask, token_type_ids=None):
        captured.append(input_ids.clone())
        return orig(input_ids, attention_mask, token_type_ids)

    data = model.data_preprocessor(_batch(TEXTS[1:3]), True)
    with mock.patch.object(model.text_encoder, 'encode', side_effect=spy):
        model(**data, mode='loss')
    ids = captured[0]
    pieces = [tok.convert_ids_to_tokens(row.tolist()) for row in ids]
    assert pieces[0][:6] == ['[CLS]', 'the', '[MASK]', '[MASK]', 'near', 'the']
    assert pieces[0][6] == '[MASK]'  # 'road' is an entity too (every occurrence)
    plain = model.text_encoder.tokenize(TEXTS[2:3])['input_ids'][0]
    assert torch.equal(ids[1], plain)  # no entity word: the text is kept as it is

    model.p_erase = 0.0
    captured.clear()
    with mock.patch.object(model.text_encoder, 'encode', side_effect=spy):
        losses = model(**data, mode='loss')
    assert tok.mask_token_id not in captured[0]
    assert losses['loss_rec'].item() == 0  # nothing erased, nothing to reconstruct


def test_leakage_guard(tiny_text):
    """Changing the erased word of the original text leaves the reconstruction unchanged."""
    model = _build(_cfg(tiny_text)).eval()
    texts_a = ['the small red car on the left', 'the white truck near the road']
    texts_b = ['the small red van on the left', 'the white bus near the tree']
    inputs = model.data_preprocessor(_batch(texts_a), False)['inputs']
    with torch.no_grad():
        logits_a, ids_a, erase_a = model.reconstruction_logits(inputs, texts_a)
        logits_b, ids_b, erase_b = model.reconstruction_logits(inputs, texts_b)
    assert torch.equal(erase_a, erase_b) and erase_a.sum() == 3  # car | truck, road
    assert not torch.equal(ids_a, ids_b)  # the original words differ ...
    torch.testing.assert_close(logits_a, logits_b, rtol=0, atol=0)  # ... R cannot tell
    # control: an unerased word does change the logits
    with torch.no_grad():
        logits_c, _, _ = model.reconstruction_logits(
            inputs, ['the big red car on the left', 'the white truck near the road'])
    assert (logits_c - logits_a).abs().max() > 0
