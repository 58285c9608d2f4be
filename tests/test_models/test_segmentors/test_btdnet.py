# Copyright (c) mmrrsis contributors. All rights reserved.
from unittest import mock

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmrrsis.testing import make_tiny_bert, tiny_segmentor_cfg
from mmrrsis.testing import assert_every_parameter_learns

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
        loss = dict(type='DMOLSLoss', num_heads=2, num_layers=1, loss_weight=0.01)
        loss.update(dmols if isinstance(dmols, dict) else {})
        cfg.loss_dmols = loss
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


VARIANTS = [
    dict(dmols_mode='side_branch', dmols=dict(target='feature', memory='1/8')),
    dict(dmols_mode='side_branch', dmols=dict(target='feature', feature_source='encoded',
                                              token_scope='erased', memory='coarsest')),
    dict(dmols_mode='side_branch', dmols=dict(target='token', token_scope='erased',
                                              memory='mci')),
    dict(dmols_mode='single_pass', erase='all_entities',
         dmols=dict(target='token', token_scope='erased', memory='coarsest')),
    dict(dmols_mode='second_pass', dmols=dict(target='feature', memory='mci')),
]


@pytest.mark.parametrize('variant', VARIANTS, ids=lambda v: '-'.join(
    [v['dmols_mode']] + [str(x) for x in v['dmols'].values()]))
def test_every_parameter_gets_a_gradient(tiny_text, variant):
    variant = dict(variant)
    model = _build(_cfg(tiny_text, dmols=variant.pop('dmols'), **variant))
    model.train()
    data = model.data_preprocessor(_batch(TEXTS[:2]), True)
    losses = model(**data, mode='loss')
    assert set(losses) >= {'decode.loss_ce', 'decode.loss_fg', 'decode.loss_bg', 'loss_rec'}
    assert losses['loss_rec'] > 0
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert_every_parameter_learns(model.named_parameters())


def test_dmols_is_one_loss_component(tiny_text):
    from mmrrsis.models.losses import DMOLSLoss
    model = _build(_cfg(tiny_text, dmols=dict(memory='1/8')))
    assert isinstance(model.loss_dmols, DMOLSLoss)
    assert model.loss_dmols.loss_name == 'loss_rec'
    # widths follow the model: text encoder channels and the 1/8 map of the head's inputs
    assert model.loss_dmols.query_proj.in_features == model.text_encoder.out_channels
    assert model.loss_dmols.memory_proj.in_features == 32
    assert not any('reconstruct' in n for n, _ in model.named_modules())


@pytest.mark.parametrize('mode', ['side_branch', 'single_pass', 'second_pass'])
def test_the_text_encoder_runs_once_per_training_forward(tiny_text, mode):
    dmols = (dict(target='token', token_scope='erased') if mode == 'single_pass' else
             dict(target='feature'))
    model = _build(_cfg(tiny_text, dmols=dmols, dmols_mode=mode))
    calls = []
    orig = model.text_encoder.encode

    def spy(input_ids, attention_mask, token_type_ids=None):
        calls.append(input_ids.clone())
        return orig(input_ids, attention_mask, token_type_ids)

    data = model.data_preprocessor(_batch(TEXTS[:2]), True)
    with mock.patch.object(model.text_encoder, 'encode', side_effect=spy):
        losses = model(**data, mode='loss')
    mask_id = model.text_encoder.tokenizer.mask_token_id
    assert len(calls) == 1 and calls[0].shape[0] == 4  # one call, [full; erased]
    assert mask_id not in calls[0][:2] and mask_id in calls[0][2:]
    assert losses['loss_rec'] > 0


def test_second_pass_runs_the_backbone_on_the_erased_text(tiny_text):
    model = _build(_cfg(tiny_text, dmols_mode='second_pass'))
    data = model.data_preprocessor(_batch(TEXTS[:2]), True)
    with mock.patch.object(model, 'extract_feat_and_text',
                           wraps=model.extract_feat_and_text) as spy:
        model(**data, mode='loss')
    assert spy.call_count == 2
    side = _build(_cfg(tiny_text, dmols_mode='side_branch'))
    with mock.patch.object(side, 'extract_feat_and_text',
                           wraps=side.extract_feat_and_text) as spy:
        side(**data, mode='loss')
    assert spy.call_count == 1  # no second backbone pass


def test_side_branch_segmentation_does_not_depend_on_the_erasure(tiny_text):
    model = _build(_cfg(tiny_text, dmols_mode='side_branch'))
    model.train()
    data = model.data_preprocessor(_batch(TEXTS), True)
    out = {}
    for p in (0.0, 1.0):
        model.p_erase = p
        torch.manual_seed(0)
        out[p] = model(**data, mode='loss')
    assert out[0.0]['loss_rec'].item() == 0 and out[1.0]['loss_rec'].item() > 0
    for key in out[0.0]:
        if key.startswith('decode.'):
            torch.testing.assert_close(out[0.0][key], out[1.0][key], rtol=0, atol=0)
    # single_pass trains the segmentation on the erased text: the losses differ there
    single = _build(_cfg(tiny_text, dmols=dict(target='token', token_scope='erased'),
                         dmols_mode='single_pass'))
    single.load_state_dict(model.state_dict(), strict=False)
    single.train()
    res = {}
    for p in (0.0, 1.0):
        single.p_erase = p
        torch.manual_seed(0)
        res[p] = single(**data, mode='loss')
    assert res[0.0]['decode.loss_ce'] != res[1.0]['decode.loss_ce']


def test_single_pass_rejects_the_updated_feature_target(tiny_text):
    with pytest.raises(ValueError, match='single_pass'):
        _build(_cfg(tiny_text, dmols=dict(target='feature', feature_source='updated'),
                    dmols_mode='single_pass'))


def test_predict_never_runs_dmols(tiny_text):
    model = _build(_cfg(tiny_text)).eval()
    data = model.data_preprocessor(_batch(TEXTS[:2]), False)
    guards = [mock.patch.object(model.loss_dmols, 'forward',
                                side_effect=AssertionError('D-MOLS loss in predict')),
              mock.patch.object(model.loss_dmols, 'reconstruct',
                                side_effect=AssertionError('reconstruction in predict')),
              mock.patch.object(model, 'draw_erasure',
                                side_effect=AssertionError('erasure in predict')),
              mock.patch.object(model, 'tokenize_with_entities',
                                side_effect=AssertionError('erasure in predict'))]
    for g in guards:
        g.start()
    try:
        with torch.no_grad():
            out = model(**data, mode='predict')
            logits = model(**data, mode='tensor')
    finally:
        for g in guards:
            g.stop()
    assert len(out) == 2 and logits.shape == (2, 2, 16, 16)
    assert model.decode_head.last_decode_feature is None  # nothing kept for D-MOLS


def _captured_ids(model, texts):
    captured = []
    orig = model.text_encoder.encode

    def spy(input_ids, attention_mask, token_type_ids=None):
        captured.append(input_ids.clone())
        return orig(input_ids, attention_mask, token_type_ids)

    data = model.data_preprocessor(_batch(texts), True)
    with mock.patch.object(model.text_encoder, 'encode', side_effect=spy):
        losses = model(**data, mode='loss')
    return captured[0][len(texts):], losses  # the erased half


def test_erasure_all_entities(tiny_text):
    model = _build(_cfg(tiny_text, erase='all_entities'))
    tok = model.text_encoder.tokenizer
    ids, _ = _captured_ids(model, TEXTS[1:3])
    pieces = [tok.convert_ids_to_tokens(row.tolist()) for row in ids]
    assert pieces[0][:6] == ['[CLS]', 'the', '[MASK]', '[MASK]', 'near', 'the']
    assert pieces[0][6] == '[MASK]'  # 'road' is an entity too (every occurrence)
    plain = model.text_encoder.tokenize(TEXTS[2:3])['input_ids'][0]
    assert torch.equal(ids[1], plain)  # no entity word: the text is kept as it is

    model.p_erase = 0.0
    ids, losses = _captured_ids(model, TEXTS[1:3])
    assert tok.mask_token_id not in ids
    assert losses['loss_rec'].item() == 0  # nothing erased, nothing to reconstruct


def test_erasure_one_run(tiny_text):
    model = _build(_cfg(tiny_text, erase='one_run'))
    tok = model.text_encoder.tokenizer
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        ids, _ = _captured_ids(model, TEXTS[1:2])
        pieces = tok.convert_ids_to_tokens(ids[0].tolist())
        masked = tuple(i for i, p in enumerate(pieces) if p == '[MASK]')
        seen.add(masked)
    # one run per sentence: "storage tank" (two adjacent words) or "road", never both
    assert seen == {(2, 3), (6, )}


def test_leakage_guard(tiny_text):
    """second_pass: changing the erased word of the original text leaves the reconstruction
    unchanged (the side branch's memory is the full-text forward's by design)."""
    model = _build(_cfg(tiny_text, dmols_mode='second_pass', erase='all_entities')).eval()
    texts_a = ['the small red car on the left', 'the white truck near the road']
    texts_b = ['the small red van on the left', 'the white bus near the tree']
    inputs = model.data_preprocessor(_batch(texts_a), False)['inputs']
    with torch.no_grad():
        out_a, ids_a, erase_a = model.reconstruction_output(inputs, texts_a)
        out_b, ids_b, erase_b = model.reconstruction_output(inputs, texts_b)
    assert torch.equal(erase_a, erase_b) and erase_a.sum() == 3  # car | truck, road
    assert not torch.equal(ids_a, ids_b)  # the original words differ ...
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)  # ... R cannot tell
    with torch.no_grad():
        out_c, _, _ = model.reconstruction_output(
            inputs, ['the big red car on the left', 'the white truck near the road'])
    assert (out_c - out_a).abs().max() > 0


def test_grounding_diagnostic(tiny_text):
    import importlib.util
    import os.path as osp
    path = osp.join(osp.dirname(__file__), '..', '..', '..', 'tools', 'analysis_tools',
                    'dmols_grounding.py')
    spec = importlib.util.spec_from_file_location('dmols_grounding', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    model = _build(_cfg(tiny_text)).eval()
    batches = [_batch(TEXTS[:2]), _batch(TEXTS[1:3]), _batch(TEXTS[:1])]
    res = tool.grounding_losses(model, batches, seed=0)
    assert res['batches'] == 2 and res['samples'] == 4  # the batch of one is skipped
    assert res['loss_rec'] > 0 and res['loss_rec_shuffled'] > 0
    assert res['loss_rec'] != res['loss_rec_shuffled']  # R reads its memory
    # independent check of the first number: the unweighted loss of each batch, same seeds
    expect = []
    with torch.no_grad():
        for i, b in enumerate(batches[:2]):
            torch.manual_seed(i)
            _, loss = model.dmols_forward(**model.data_preprocessor(b, True))
            expect.append(loss.item() / model.loss_dmols.loss_weight)
    assert res['loss_rec'] == pytest.approx(sum(expect) / 2, rel=1e-6)
    # a memory-blind reconstruction gives the same number both ways
    model.loss_dmols.memory_proj.weight.data.zero_()
    model.loss_dmols.memory_proj.bias.data.zero_()
    res = tool.grounding_losses(model, batches, seed=0)
    assert res['loss_rec'] == pytest.approx(res['loss_rec_shuffled'], rel=1e-6)
    # the references: a constant predictor of spread targets has a loss, and the words of
    # real sentences are spread (not one vector); a model without D-MOLS gets the spreads
    assert 0 < res['loss_rec_constant'] < 1
    assert 0 < res['word_spread_encoded'] < 1 and 0 < res['word_spread_updated'] < 1
    plain = _build(_cfg(tiny_text, dmols=False)).eval()
    spreads = tool.grounding_losses(plain, batches)
    assert set(spreads) == {'word_spread_encoded', 'word_spread_updated', 'batches', 'samples'}
    assert spreads['word_spread_encoded'] == pytest.approx(res['word_spread_encoded'])
    with pytest.raises(ValueError, match='no D-MOLS'):
        tool.grounding_losses(plain, batches, spreads=False)


def test_word_spread():
    import importlib.util
    import os.path as osp
    path = osp.join(osp.dirname(__file__), '..', '..', '..', 'tools', 'analysis_tools',
                    'dmols_grounding.py')
    spec = importlib.util.spec_from_file_location('dmols_grounding', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    same = torch.randn(8).expand(2, 4, 8) * torch.tensor([1.0, 2.0, 3.0, -5.0])[:, None]
    assert tool.word_spread(same, mask) == pytest.approx(0.0, abs=1e-6)  # scale does not count
    onehot = torch.zeros(2, 4, 8)
    for i, (b, t) in enumerate([(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]):
        onehot[b, t, i] = 1.0
    onehot[0, 3] = 100.0  # padding: ignored
    assert tool.word_spread(onehot, mask) == pytest.approx(1 - 1 / 5 ** 0.5, rel=1e-6)


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


