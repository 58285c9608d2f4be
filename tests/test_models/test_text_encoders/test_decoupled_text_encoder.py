# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest
import torch
from mmseg.registry import MODELS

from mmrrsis.models.text_encoders import DecoupledText
from mmrrsis.testing import make_tiny_bert
from mmrrsis.testing.tiny_models import TINY_VOCAB

# word pieces: "tennis" -> ten ##nis, "tanks" -> tank ##s
VOCAB = TINY_VOCAB + ('##s', 'ten', '##nis', 'court', 'side', 'corner', 'marking')


@pytest.fixture(scope='module')
def encoder(tmp_path_factory):
    path = make_tiny_bert(str(tmp_path_factory.mktemp('bert')), vocab=VOCAB)
    enc = MODELS.build(dict(type='DecoupledTextEncoder', name_or_path=path, max_tokens=12,
                            object_categories='rrsisd'))
    enc.init_weights()
    return enc.eval()


def _tokens(enc, text):
    return enc.tokenizer.convert_ids_to_tokens(enc.tokenize([text])['input_ids'][0])


def _marked(enc, text, mask):
    return [t for t, m in zip(_tokens(enc, text), mask.tolist()) if m]


def test_masks_follow_word_pieces(encoder):
    texts = ['the storage tanks on the left side', 'the tennis court at the bottom left']
    out = encoder.decouple(texts)
    assert _marked(encoder, texts[0], out['object_mask'][0]) == ['storage', 'tank', '##s']
    assert _marked(encoder, texts[0], out['position_mask'][0]) == ['on', 'the', 'left', 'side']
    # "tennis" is two pieces: a word-index shortcut would shift the following masks by one
    assert _marked(encoder, texts[1], out['object_mask'][1]) == ['ten', '##nis', 'court']
    assert _marked(encoder, texts[1], out['position_mask'][1]) == ['at', 'the', 'bottom', 'left']
    for key in ('object_mask', 'position_mask'):
        assert out[key].shape == (2, 12) and out[key].dtype == torch.long
        assert not torch.any(out[key] & (1 - out['attention_mask']))  # only real tokens
        assert not torch.any(out[key][:, 0])  # never [CLS]


def test_fallbacks(encoder):
    out = encoder.decouple(['a big white building', 'the car'])
    # no RRSIS-D category -> empty object mask; no spatial phrase -> the whole sentence
    assert not torch.any(out['object_mask'][0])
    assert torch.equal(out['position_mask'], out['attention_mask'])
    assert _marked(encoder, 'the car', out['object_mask'][1]) == []  # "car" is not RRSIS-D's


def test_vocabularies(tmp_path):
    path = make_tiny_bert(str(tmp_path), vocab=VOCAB, weights=False)
    enc = MODELS.build(dict(type='DecoupledTextEncoder', name_or_path=path, max_tokens=16,
                            pretrained=False, object_categories='refsegrs'))
    text = 'the car near the road marking'
    out = enc.decouple([text])
    assert _marked(enc, text, out['object_mask'][0]) == ['car', 'road', 'marking']
    custom = MODELS.build(dict(type='DecoupledTextEncoder', name_or_path=path, max_tokens=16,
                               pretrained=False, object_categories=['tree']))
    assert _marked(custom, 'the tree', custom.decouple(['the tree'])['object_mask'][0]) == [
        'tree']
    with pytest.raises(ValueError, match='object_categories'):
        MODELS.build(dict(type='DecoupledTextEncoder', name_or_path=path, pretrained=False,
                          object_categories='coco'))


def test_one_encoder_call_equals_three(encoder, monkeypatch):
    texts = ['the storage tank on the left side', 'a big white building']
    calls = []
    orig = encoder.model.forward
    monkeypatch.setattr(encoder.model, 'forward',
                        lambda *a, **k: calls.append(k['input_ids'].shape) or orig(*a, **k))
    with torch.no_grad():
        out = encoder(texts)
    assert isinstance(out, DecoupledText) and calls == [(6, 12)]
    feats, mask = out[:2]  # the ordinary (text_feats, text_mask) pair
    assert feats.shape == (2, 12, 32) and torch.equal(mask, out.text_mask)
    monkeypatch.setattr(encoder.model, 'forward', orig)
    tokens = encoder.decouple(texts)
    with torch.no_grad():
        ref_c = encoder.encode(tokens['input_ids'], tokens['attention_mask'])
        ref_g = encoder.encode(tokens['input_ids'], tokens['object_mask'])
        ref_s = encoder.encode(tokens['input_ids'], tokens['position_mask'])
    torch.testing.assert_close(out.text_feats, ref_c, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.object_feats[0], ref_g[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.position_feats, ref_s, atol=1e-5, rtol=1e-5)
    assert not torch.any(out.object_mask[1])  # sample 2 names no category


def test_reference_position_rule_marks_relational_phrases(tmp_path):
    path = make_tiny_bert(str(tmp_path), vocab=VOCAB + ('along', 'river'), weights=False)
    enc = MODELS.build(dict(type='DecoupledTextEncoder', name_or_path=path, max_tokens=12,
                            pretrained=False, position_rule='reference'))
    lexicon = MODELS.build(dict(type='DecoupledTextEncoder', name_or_path=path, max_tokens=12,
                                pretrained=False))
    text = 'the tennis court along the river'
    ref, lex = enc.decouple([text]), lexicon.decouple([text])
    assert _marked(enc, text, ref['position_mask'][0]) == ['along', 'the', 'river']
    # no position word: the lexicon rule falls back to the whole sentence
    assert torch.equal(lex['position_mask'], lex['attention_mask'])
    with pytest.raises(ValueError, match='position_rule'):
        MODELS.build(dict(type='DecoupledTextEncoder', name_or_path=path, pretrained=False,
                          position_rule='nltk'))


def test_feature_cache_equals_plain_call(tmp_path):
    path = make_tiny_bert(str(tmp_path / 'bert'), vocab=VOCAB)
    kw = dict(type='DecoupledTextEncoder', name_or_path=path, max_tokens=12,
              object_categories='rrsisd', position_rule='reference', frozen=True)
    plain = MODELS.build(kw)
    cached = MODELS.build(dict(kw, cache_size=3))
    plain.init_weights()
    cached.load_state_dict(plain.state_dict())
    plain.eval()
    cached.eval()
    calls = []
    cached.model.register_forward_pre_hook(lambda m, a, k: calls.append(k['input_ids'].shape[0]),
                                           with_kwargs=True)
    batch = ['the vehicle on the left', 'a tennis court near the road', 'the vehicle on the left']
    out = cached(batch)
    assert isinstance(out, DecoupledText)
    assert calls == [6]  # two distinct expressions, three rows each, one call
    ref = plain(batch)
    for name, a, b in zip(DecoupledText._fields, out, ref):
        assert a.dtype == b.dtype, name
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)
    cached(['a tennis court near the road', 'the vehicle on the left'])
    assert calls == [6]  # all from the cache
    cached(['the bridge', 'the tanks'])
    assert len(cached._cache) == 3 and 'the tanks' in cached._cache
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert cached(['the bridge']).object_feats.dtype == torch.float32
