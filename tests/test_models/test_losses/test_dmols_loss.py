# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

import mmrrsis  # noqa: F401  (fills the registries)

B, L, CT, CV, V = 2, 6, 16, 12, 30


def _build(**kwargs):
    cfg = dict(type='DMOLSLoss', text_dim=CT, visual_channels=CV, num_heads=2)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(B, L, CT, generator=g)
    qmask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    memory = torch.randn(B, CV, 3, 4, generator=g)
    erase = torch.zeros(B, L, dtype=torch.bool)
    erase[0, 2] = erase[1, 1] = erase[1, 2] = True
    target = torch.randn(B, L, CT, generator=g, requires_grad=True)
    ids = torch.randint(0, V, (B, L), generator=g)
    return query, qmask, memory, erase, target, ids


@pytest.mark.parametrize('scope', ['erased', 'all'])
def test_feature_target_is_the_mean_cosine_distance(scope):
    loss_fn = _build(target='feature', token_scope=scope, loss_weight=0.5)
    query, qmask, memory, erase, target, _ = _inputs()
    loss = loss_fn(query, qmask, memory, erase, target_feats=target)
    out = loss_fn.reconstruct(query, qmask, memory)
    sel = erase if scope == 'erased' else qmask.bool()
    dist = [1 - F.cosine_similarity(out[b, t], target[b, t], dim=0)
            for b in range(B) for t in range(L) if sel[b, t]]
    assert len(dist) == (3 if scope == 'erased' else 10)
    torch.testing.assert_close(loss, 0.5 * torch.stack(dist).mean(), rtol=1e-5, atol=1e-6)
    loss.backward()
    assert target.grad is None  # the target is detached
    assert all(p.grad is not None for p in loss_fn.parameters())


def test_token_target_with_tied_and_own_embeddings():
    query, qmask, memory, erase, _, ids = _inputs()
    emb = torch.randn(V, CT)
    tied = _build(target='token', vocab_size=V, token_scope='erased', loss_weight=0.1)
    logits = tied.reconstruct(query, qmask, memory, emb)
    assert logits.shape == (B, L, V)
    ref = F.cross_entropy(logits[erase], ids[erase])
    loss = tied(query, qmask, memory, erase, target_ids=ids, word_embeddings=emb)
    torch.testing.assert_close(loss, 0.1 * ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match='word embeddings'):
        tied(query, qmask, memory, erase, target_ids=ids)
    own = _build(target='token', vocab_size=V, tie_word_embeddings=False)
    assert own(query, qmask, memory, erase, target_ids=ids) > 0


def test_samples_without_an_erasure_do_not_count():
    loss_fn = _build(target='feature', token_scope='all')
    query, qmask, memory, erase, target, _ = _inputs()
    erase[0] = False  # sample 0: nothing erased -> not in the loss, even with scope 'all'
    loss = loss_fn(query, qmask, memory, erase, target_feats=target)
    out = loss_fn.reconstruct(query, qmask, memory)
    ref = (1 - F.cosine_similarity(out[1], target[1], dim=-1)).mean()
    torch.testing.assert_close(loss, 0.01 * ref, rtol=1e-5, atol=1e-6)
    zero = loss_fn(query, qmask, memory, torch.zeros_like(erase), target_feats=target)
    assert zero.item() == 0 and zero.requires_grad  # in the graph, no value


def test_arguments_are_checked():
    with pytest.raises(ValueError, match='target'):
        _build(target='pixels')
    with pytest.raises(ValueError, match='memory'):
        _build(memory='finest')
    with pytest.raises(ValueError, match='vocab_size'):
        _build(target='token')
    assert _build().loss_name == 'loss_rec'
    assert _build(loss_name='loss_dmols').loss_name == 'loss_dmols'


@pytest.mark.parametrize('scope', ['erased', 'all'])
def test_constant_loss_is_the_best_constant_feature_predictor(scope):
    loss_fn = _build(target='feature', token_scope=scope, loss_weight=0.5)
    _, qmask, _, erase, target, _ = _inputs()
    real = qmask.bool()
    sel = erase if scope == 'erased' else real
    loss = loss_fn.constant_loss(erase, real, target_feats=target)
    words = [target[b, t].detach() for b in range(B) for t in range(L) if sel[b, t]]
    mean_dir = torch.stack([w / w.norm() for w in words]).sum(0)
    ref = torch.stack([1 - F.cosine_similarity(w, mean_dir, dim=0) for w in words]).mean()
    torch.testing.assert_close(loss, 0.5 * ref, rtol=1e-5, atol=1e-6)
    for seed in range(5):  # no other constant does better
        c = torch.randn(CT, generator=torch.Generator().manual_seed(seed))
        other = torch.stack([1 - F.cosine_similarity(w, c, dim=0) for w in words]).mean()
        assert 0.5 * other > loss
    same = target.detach().clone()
    same[:] = 3.0 * torch.randn(CT)  # every word one vector: nothing left to predict
    assert loss_fn.constant_loss(erase, real, target_feats=same).abs() < 1e-6


def test_constant_loss_of_the_token_target_is_the_unigram_entropy():
    loss_fn = _build(target='token', vocab_size=V, token_scope='all', loss_weight=1.0)
    _, qmask, _, erase, _, _ = _inputs()
    ids = torch.tensor([[3, 3, 7, 9, 0, 0], [3, 7, 7, 7, 1, 2]])
    real = qmask.bool()
    counts = {3: 3, 7: 4, 9: 1, 1: 1, 2: 1}  # the 10 real tokens
    ref = -sum(c / 10 * torch.log(torch.tensor(c / 10)) for c in counts.values())
    torch.testing.assert_close(loss_fn.constant_loss(erase, real, target_ids=ids), ref)
    with pytest.raises(ValueError, match='target_ids'):
        loss_fn.constant_loss(erase, real)
