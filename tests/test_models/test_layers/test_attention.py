# Copyright (c) mmrrsis contributors. All rights reserved.
"""The SDPA attention paths compute what the eager paths compute (same parameters)."""
import copy

import pytest
import torch
from mmseg.models.backbones.swin import WindowMSA

from mmrrsis.models.layers import (PWAM, SpatialImageLanguageAttention, SwitchableWindowMSA,
                                   set_attn_impl)
from mmrrsis.models.necks.cim_neck import CrossScaleAttention


pytestmark = pytest.mark.usefixtures('one_thread')


def _text(B=3, L=7, C=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(B, L, C, generator=g)
    mask = torch.ones(B, L)
    mask[0, 4:] = 0
    mask[1, 2:] = 0
    return feats, mask


def _grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}


@pytest.mark.parametrize('num_heads', [1, 2])
def test_sila_sdpa_matches_eager_values_and_gradients(num_heads):
    # float64: the biases before the instance norms get gradients of ~1e-4 of the weights',
    # made of float32 rounding only; in float64 both paths agree to ~1e-11
    torch.manual_seed(0)
    sila = SpatialImageLanguageAttention(16, 24, key_channels=8, value_channels=12,
                                         num_heads=num_heads).double()
    x = torch.randn(3, 16, 5, 6, dtype=torch.float64, requires_grad=True)
    feats, mask = (t.double() for t in _text())
    eager = sila(x, feats, mask)
    eager.square().sum().backward()
    g_eager, gx_eager = _grads(sila), x.grad.clone()
    sila.zero_grad()
    x.grad = None
    sila.attn_impl = 'sdpa'
    fast = sila(x, feats, mask)
    fast.square().sum().backward()
    assert fast.shape == eager.shape == (3, 12, 5, 6)
    torch.testing.assert_close(fast, eager, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(x.grad, gx_eager, atol=1e-9, rtol=1e-9)
    for name, g in _grads(sila).items():
        torch.testing.assert_close(g, g_eager[name], atol=1e-9, rtol=1e-9)
    # the padding words get exactly no weight: changing them changes nothing
    feats2 = feats.clone()
    feats2[0, 4:] = 100.0
    torch.testing.assert_close(sila(x, feats2, mask), fast, atol=1e-12, rtol=0)


def test_sila_sdpa_falls_back_when_weights_are_returned():
    sila = SpatialImageLanguageAttention(16, 24)
    sila.attn_impl = 'sdpa'
    x = torch.randn(2, 10, 16)
    feats, mask = _text(B=2)
    out, attn = sila(x, feats, mask, return_attn=True)
    assert attn.shape == (2, 1, 10, 7)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 1, 10))
    assert attn[0, 0, :, 4:].abs().max() == 0
    sila.attn_impl = 'eager'
    torch.testing.assert_close(sila(x, feats, mask), out)


def _swin_block_inputs(window=4, shift=True):
    torch.manual_seed(0)
    msa = WindowMSA(embed_dims=16, num_heads=2, window_size=(window, window)).double()
    torch.nn.init.normal_(msa.relative_position_bias_table, std=0.5)
    nW, N = 4, window * window
    x = torch.randn(2 * nW, N, 16, dtype=torch.float64, requires_grad=True)
    mask = None
    if shift:  # a shifted-window style mask: 0 or -100 blocks
        mask = torch.zeros(nW, N, N, dtype=torch.float64)
        mask[1:, :N // 2, N // 2:] = -100.0
        mask[1:, N // 2:, :N // 2] = -100.0
    return msa, x, mask


@pytest.mark.parametrize('shift', [False, True])
def test_window_msa_sdpa_matches_mmseg(shift):
    msa, x, mask = _swin_block_inputs(shift=shift)
    reference = copy.deepcopy(msa)
    out_ref = reference(x, mask)
    out_ref.square().sum().backward()
    g_ref = _grads(reference)
    gx = x.grad.clone()
    x.grad = None
    assert set_attn_impl(msa, 'sdpa') == 1
    assert type(msa) is SwitchableWindowMSA
    out = msa(x, mask)
    out.square().sum().backward()
    torch.testing.assert_close(out, out_ref, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(x.grad, gx, atol=1e-10, rtol=1e-10)
    for name, g in _grads(msa).items():
        torch.testing.assert_close(g, g_ref[name], atol=1e-10, rtol=1e-10)
    # same parameter and buffer names: checkpoints load either way
    assert list(msa.state_dict()) == list(reference.state_dict())
    set_attn_impl(msa, 'eager')
    assert torch.equal(msa(x, mask), reference(x, mask))  # eager is MMSeg's code, bit for bit


def test_cross_scale_attention_sdpa_matches_eager():
    torch.manual_seed(0)
    csa = CrossScaleAttention(dim=16, grid=(6, 6), key_dim=4, num_heads=2).eval()
    x = torch.randn(2, 16, 6, 6)
    eager = csa(x)
    set_attn_impl(csa, 'sdpa')
    assert csa.attn_impl == 'sdpa'
    torch.testing.assert_close(csa(x), eager, atol=1e-5, rtol=1e-5)


def test_set_attn_impl_rejects_unknown():
    with pytest.raises(ValueError, match="attn_impl must be one of"):
        set_attn_impl(PWAM(8, 8), 'flash')


def test_pwam_under_bf16_autocast_stays_close():
    """The SDPA path under bfloat16 autocast: the padding bias survives the cast."""
    torch.manual_seed(0)
    pwam = PWAM(16, 24)
    set_attn_impl(pwam, 'sdpa')
    x = torch.randn(2, 16, 8, 8)
    feats, mask = _text(B=2)
    ref = pwam(x, feats, mask)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        low = pwam(x, feats, mask)
    assert low.dtype == torch.bfloat16
    cos = torch.nn.functional.cosine_similarity(low.float().flatten(), ref.flatten(), dim=0)
    assert cos > 0.995  # bfloat16 keeps 8 significant bits
