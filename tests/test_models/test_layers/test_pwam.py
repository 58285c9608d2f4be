# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F

import mmrrsis  # noqa: F401  (fills the registries)
from mmrrsis.testing import assert_every_parameter_learns, random_projection_loss
from mmrrsis.models.layers import (PWAM, LanguageGate, SpatialImageLanguageAttention,
                                   masked_mean, text_mask_to_bias)
from mmseg.registry import MODELS

B, N, C, L, CT = 2, 12, 16, 5, 24


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, N, C, generator=g)
    text = torch.randn(B, L, CT, generator=g)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    return x, text, mask


def _instance_norm(t):  # (B, C, N): normalise each channel over the pixels
    return (t - t.mean(-1, keepdim=True)) / torch.sqrt(t.var(-1, unbiased=False, keepdim=True) +
                                                       1e-5)


def _conv(seq, t):  # a 1x1 Conv1d applied to (B, C_in, N)
    conv = seq[0]
    return torch.einsum('oi,bin->bon', conv.weight[..., 0], t) + conv.bias[None, :, None]


def _reference_pwam(pwam, x, text, mask, coords=None):
    """LAVT's PWAM written out from the equations (models.md §1.2), independent of the code.

    ``coords`` (N, 2): extra channels of V for ``vis_project`` only (``coord_feats=True``).
    """
    sila = pwam.image_lang_att
    m = mask.float()[:, None, :]  # (B, 1, L)
    v = x.transpose(1, 2)  # (B, C, N)
    lang = text.transpose(1, 2)  # (B, C_t, L)
    q = _instance_norm(_conv(sila.f_query, v))
    k = _conv(sila.f_key, lang) * m
    val = _conv(sila.f_value, lang) * m
    h = sila.num_heads
    d = q.shape[1] // h
    outs = []
    for i in range(h):
        qi, ki, vi = q[:, i * d:(i + 1) * d], k[:, i * d:(i + 1) * d], val[:, i * d:(i + 1) * d]
        s = torch.einsum('bdn,bdl->bnl', qi, ki) / q.shape[1]**0.5 + (1e4 * m - 1e4)
        outs.append(torch.einsum('bnl,bdl->bdn', s.softmax(-1), vi))
    g = _instance_norm(_conv(sila.W, torch.cat(outs, 1)))
    v_in = v if coords is None else torch.cat([v, coords.T[None].expand(B, -1, -1)], 1)
    vm = F.gelu(_conv(pwam.vis_project, v_in))
    return F.gelu(_conv(pwam.project_mm, vm * g)).transpose(1, 2)


@pytest.mark.parametrize('num_heads', [1, 2])
def test_pwam_matches_equations(num_heads):
    x, text, mask = _inputs()
    pwam = PWAM(C, text_channels=CT, num_heads=num_heads).eval()
    out = pwam(x, text, mask)
    assert out.shape == (B, N, C)
    torch.testing.assert_close(out, _reference_pwam(pwam, x, text, mask), atol=1e-5, rtol=1e-4)


def test_pwam_map_layout_and_registry():
    x, text, mask = _inputs()
    pwam = MODELS.build(dict(type='PWAM', channels=C, text_channels=CT, out_channels=8)).eval()
    fmap = x.transpose(1, 2).reshape(B, C, 3, 4)
    out_map = pwam(fmap, text, mask)
    assert out_map.shape == (B, 8, 3, 4)
    torch.testing.assert_close(out_map.flatten(2).transpose(1, 2), pwam(x, text, mask))


def test_pwam_coordinate_features():
    x, text, mask = _inputs()  # N = 12 tokens: a 3 x 4 grid
    pwam = PWAM(C, text_channels=CT, num_heads=2, coord_feats=True).eval()
    assert pwam.vis_project[0].in_channels == C + 2
    # pixel centres in (-1, 1): columns -0.75, -0.25, 0.25, 0.75; rows -2/3, 0, 2/3
    xs, ys = [-0.75, -0.25, 0.25, 0.75], [-2 / 3, 0., 2 / 3]
    coords = torch.tensor([[cx, cy] for cy in ys for cx in xs])
    out = pwam(x, text, mask, hw_shape=(3, 4))
    torch.testing.assert_close(out, _reference_pwam(pwam, x, text, mask, coords), atol=1e-5,
                               rtol=1e-4)
    # map input: the grid comes from the map itself; same result
    fmap = x.transpose(1, 2).reshape(B, C, 3, 4)
    torch.testing.assert_close(pwam(fmap, text, mask).flatten(2).transpose(1, 2), out)
    # the coordinates matter (zero coordinates would give another result)
    assert not torch.allclose(out, _reference_pwam(pwam, x, text, mask, torch.zeros(N, 2)))
    with pytest.raises(ValueError, match='hw_shape'):
        pwam(x, text, mask)
    with pytest.raises(ValueError, match='hw_shape'):
        pwam(x, text, mask, hw_shape=(4, 4))


@pytest.mark.parametrize('num_heads', [1, 2])
def test_pwam_ignores_padding(num_heads):
    x, text, mask = _inputs()
    pwam = PWAM(C, text_channels=CT, num_heads=num_heads).eval()
    perturbed = text.clone()
    perturbed[mask == 0] = 100 * torch.randn(int((mask == 0).sum()), CT)
    assert torch.equal(pwam(x, text, mask), pwam(x, perturbed, mask))
    # the mask may come as long, float or bool
    out = pwam(x, text, mask)
    assert torch.equal(out, pwam(x, text, mask.float()))
    assert torch.equal(out, pwam(x, text, mask.bool()))
    # and it matters: without it the padding words change the output
    assert not torch.allclose(pwam(x, text, None), pwam(x, perturbed, None))


def test_sila_attention_weights():
    x, text, mask = _inputs()
    sila = SpatialImageLanguageAttention(C, CT, num_heads=2)
    out, attn = sila(x, text, mask, return_attn=True)
    assert out.shape == (B, N, C)
    assert attn.shape == (B, 2, N, L)
    assert torch.all(attn[0, :, :, 3:] == 0)
    torch.testing.assert_close(attn.sum(-1), torch.ones(B, 2, N))
    # an all-padding sentence gives zero values and no NaN
    out_empty = sila(x, text, torch.zeros(B, L))
    assert torch.isfinite(out_empty).all()
    sila_q = SpatialImageLanguageAttention(C, CT, key_channels=8, value_channels=12,
                                           out_channels=4, query_norm=False, out_norm=False)
    assert sila_q(x, text, mask).shape == (B, N, 4)


def test_pwam_gradients_reach_every_parameter():
    x, text, mask = _inputs()
    x.requires_grad_(True)
    text.requires_grad_(True)
    pwam = PWAM(C, text_channels=CT, num_heads=2)
    gate = LanguageGate(C)
    random_projection_loss(gate(pwam(x, text, mask), identity=x)).backward()
    assert_every_parameter_learns([*pwam.named_parameters(prefix='pwam'),
                                   *gate.named_parameters(prefix='gate')])
    assert x.grad.abs().sum() > 0 and text.grad.abs().sum() > 0
    assert torch.all(text.grad[0, 3:] == 0)  # no gradient flows into padding words


def test_language_gate():
    x, _, _ = _inputs()
    fused = torch.randn_like(x)
    gate = MODELS.build(dict(type='LanguageGate', channels=C))
    s = torch.tanh(gate.gate[2](torch.relu(gate.gate[0](fused))))
    torch.testing.assert_close(gate(fused), s * fused)
    torch.testing.assert_close(gate(fused, identity=x), x + s * fused)
    assert gate.gate[0].bias is None  # LAVT: Linear(C, C, bias=False)
    torch.nn.init.zeros_(gate.gate[2].weight)
    assert torch.equal(gate(fused, identity=x), x)  # a closed gate keeps the visual stream


def test_text_mask_helpers():
    feats = torch.arange(2 * 3 * 2, dtype=torch.float).reshape(2, 3, 2)
    mask = torch.tensor([[1, 1, 0], [0, 0, 0]])
    mean = masked_mean(feats, mask)
    torch.testing.assert_close(mean[0], feats[0, :2].mean(0))
    torch.testing.assert_close(mean[1], torch.zeros(2))  # empty sentence: 0, not NaN
    torch.testing.assert_close(masked_mean(feats), feats.mean(1))
    torch.testing.assert_close(text_mask_to_bias(mask),
                               torch.tensor([[0., 0., -1e4], [-1e4, -1e4, -1e4]]))
    with pytest.raises(ValueError):
        masked_mean(feats, mask[:, :2])


def test_parameter_counts_match_lavt_swin_b():
    """models.md §5: PWAM + gate over Swin-B's four stages hold about 11.3M parameters."""
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    total = sum(count(PWAM(c)) + count(LanguageGate(c)) for c in (128, 256, 512, 1024))
    assert abs(total - 11.3e6) < 0.1e6
