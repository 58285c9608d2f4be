# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest
import torch
from mmseg.registry import MODELS

import mmrrsis  # noqa: F401  (fills the registries)


@pytest.mark.parametrize('tied', [True, False])
def test_logits_loss_and_gradients(tied):
    head = MODELS.build(dict(type='EntityReconstructHead', text_dim=16, visual_channels=32,
                             vocab_size=50, num_heads=2, num_layers=1,
                             tie_word_embeddings=tied, loss_weight=0.5))
    g = torch.Generator().manual_seed(0)
    text = torch.randn(2, 6, 16, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    maps = [torch.randn(2, 8, 8, 8, generator=g), torch.randn(2, 32, 2, 2, generator=g)]
    emb = torch.randn(50, 16, generator=g, requires_grad=True)
    logits = head(text, mask, maps, emb if tied else None)
    assert logits.shape == (2, 6, 50)
    target = torch.randint(0, 50, (2, 6), generator=g)
    erase = torch.zeros(2, 6, dtype=torch.bool)
    erase[0, 2] = erase[1, 1] = True
    loss = head.loss(logits, target, erase)
    ce = torch.nn.functional.cross_entropy(logits[erase], target[erase])
    torch.testing.assert_close(loss, 0.5 * ce)
    loss.backward()
    missing = [n for n, p in head.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing
    # nothing erased: an exact zero that still has a graph
    zero = head.loss(logits, target, torch.zeros_like(erase))
    assert zero.item() == 0 and zero.requires_grad
    if tied:
        with pytest.raises(ValueError):
            head(text, mask, maps)
