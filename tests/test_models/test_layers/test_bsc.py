# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest
import torch

from mmrrsis.models.layers import PWAM, BidirectionalSpatialCorrelation, LanguageGate
from mmrrsis.testing import assert_every_parameter_learns, random_projection_loss

B, H, W, C, L, CT = 2, 4, 3, 16, 5, 24


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    """Tiny tensors gain nothing from intra-op threads; on a shared CPU they cost 5-10x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, H * W, C, generator=g)
    text = torch.randn(B, L, CT, generator=g)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    return x, text, mask


def _randomize(module, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)


@pytest.mark.parametrize('num_heads', [1, 2])
def test_unidirectional_without_context_is_pwam_plus_gate(num_heads):
    x, text, mask = _inputs()
    bsc = BidirectionalSpatialCorrelation(
        C, text_channels=CT, num_heads=num_heads, spatial_context='none',
        bidirectional=False).eval()
    _randomize(bsc)
    pwam = PWAM(C, text_channels=CT, num_heads=num_heads).eval()
    gate = LanguageGate(C).eval()
    pwam.load_state_dict(bsc.pwam.state_dict())
    gate.load_state_dict(bsc.gate.state_dict())

    x_new, fused, text_new = bsc(x, (H, W), text, mask)
    ref_fused = pwam(x, text, mask)
    torch.testing.assert_close(fused, ref_fused, rtol=0, atol=0)
    torch.testing.assert_close(x_new, gate(ref_fused, identity=x), rtol=0, atol=0)
    assert text_new is text  # the words are not touched


@pytest.mark.parametrize('context,text_norm', [('none', False), ('dwconv', True),
                                               ('multi_dilation', False)])
def test_bidirectional_updates_real_words_only(context, text_norm):
    x, text, mask = _inputs()
    bsc = BidirectionalSpatialCorrelation(C, text_channels=CT, spatial_context=context,
                                          num_heads=2, text_norm=text_norm)
    bsc.init_weights()
    _randomize(bsc)
    x_new, fused, text_new = bsc(x, (H, W), text, mask)
    assert x_new.shape == fused.shape == (B, H * W, C)
    assert text_new.shape == (B, L, CT)
    pad = mask == 0
    torch.testing.assert_close(text_new[pad], text[pad], rtol=0, atol=0)
    assert (text_new[~pad] - text[~pad]).abs().amax(-1).min() > 0
    # the image changes the words: another image, other words
    _, _, text_other = bsc(_inputs(seed=5)[0], (H, W), text, mask)
    assert not torch.allclose(text_other[~pad], text_new[~pad])


def test_spatial_context_uses_neighbours_and_starts_as_identity():
    x, text, mask = _inputs()
    bsc = BidirectionalSpatialCorrelation(C, text_channels=CT, spatial_context='multi_dilation')
    bsc.init_weights()
    assert len(bsc.context) == 3
    torch.testing.assert_close(bsc.spatial_tokens(x, (H, W)), x)  # zero-init: Vs = X
    _randomize(bsc)
    x2 = x.clone()
    x2[:, 0] += 1.0  # perturb one pixel: its neighbour's context token changes
    diff = (bsc.spatial_tokens(x2, (H, W)) - bsc.spatial_tokens(x, (H, W))).abs().sum(-1)
    assert diff[:, 1].min() > 0 and diff[:, W].min() > 0
    with pytest.raises(ValueError):
        BidirectionalSpatialCorrelation(C, spatial_context='big')


@pytest.mark.parametrize('share', [True, False])
def test_every_parameter_gets_a_gradient(share):
    x, text, mask = _inputs()
    bsc = BidirectionalSpatialCorrelation(C, text_channels=CT, text_norm=True, num_heads=2,
                                          share_correlation=share)
    bsc.init_weights()
    x_new, fused, text_new = bsc(x, (H, W), text, mask)
    random_projection_loss(x_new, fused, text_new).backward()
    assert_every_parameter_learns(bsc.named_parameters())


def test_shared_correlation_is_the_text_to_image_one():
    """With a shared correlation the image-to-text weights are the text-to-image logits
    normalised over the pixels instead of the words."""
    x, text, mask = _inputs()
    bsc = BidirectionalSpatialCorrelation(C, text_channels=CT, spatial_context='none').eval()
    _randomize(bsc)
    _, logits = bsc.pwam.image_lang_att(x, text, mask, return_logits=True)
    _, attn = bsc.pwam.image_lang_att(x, text, mask, return_attn=True)
    torch.testing.assert_close(logits.softmax(-1), attn)
    value = bsc.text_value(x).unsqueeze(1)  # (B, 1, N, C)
    words = torch.matmul(logits.softmax(2).transpose(2, 3), value)[:, 0]  # (B, L, C)
    expected = text + mask.unsqueeze(-1) * bsc.text_gate(bsc.text_up(words))
    torch.testing.assert_close(bsc(x, (H, W), text, mask)[2], expected)


def test_spatial_context_runs_in_float32_under_bfloat16_autocast():
    """The depth-wise context convs leave autocast (NaN weight gradients on the CPU in bf16)."""
    x, text, mask = _inputs()
    bsc = BidirectionalSpatialCorrelation(C, text_channels=CT, num_heads=2,
                                          spatial_context='multi_dilation',
                                          float32_under_autocast=False)
    bsc.init_weights()
    _randomize(bsc)
    seen = []
    for conv in bsc.context:
        conv.register_forward_hook(lambda m, i, o: seen.append((i[0].dtype, o.dtype)))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        x_new, fused, text_new = bsc(x, (H, W), text, mask)
    assert seen and all(d == (torch.float32, torch.float32) for d in seen)
    (x_new.float().sum() + fused.float().pow(2).sum() + text_new.float().pow(2).sum()).backward()
    for name, p in bsc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    # and float32 gives the same spatial tokens as without autocast, up to bf16 rounding
    ref = bsc.spatial_tokens(x, (H, W))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = bsc.spatial_tokens(x, (H, W))
    torch.testing.assert_close(got.float(), ref, rtol=0, atol=0)


def _instance_norm(t):
    """(B, C, N) -> normalised over N per channel, no affine (nn.InstanceNorm1d's default)."""
    mean = t.mean(-1, keepdim=True)
    var = t.var(-1, unbiased=False, keepdim=True)
    return (t - mean) / torch.sqrt(var + 1e-5)


def _conv(seq_or_conv, t):
    conv = seq_or_conv[0] if isinstance(seq_or_conv, torch.nn.Sequential) else seq_or_conv
    return torch.einsum('oc,bcn->bon', conv.weight[..., 0], t) + conv.bias[None, :, None]


def _neighbourhoods(m, k):
    """(B, C, H, W) -> (B, C*k*k, H*W): zero-padded k x k neighbours, channel-major, by loops."""
    Bm, Cm, Hm, Wm = m.shape
    r = k // 2
    out = torch.zeros(Bm, Cm, k * k, Hm, Wm)
    for dy in range(k):
        for dx in range(k):
            for y in range(Hm):
                for x in range(Wm):
                    yy, xx = y + dy - r, x + dx - r
                    if 0 <= yy < Hm and 0 <= xx < Wm:
                        out[:, :, dy * k + dx, y, x] = m[:, :, yy, xx]
    return out.reshape(Bm, Cm * k * k, Hm * Wm)


def _ngrams(t, n):
    """(B, C, L) -> (B, C*n, L): words i - n//2 .. i + (n-1)//2, edges replicated, by loops."""
    Bt, Ct, Lt = t.shape
    out = torch.zeros(Bt, Ct, n, Lt)
    for i in range(Lt):
        for j in range(n):
            out[:, :, j, i] = t[:, :, min(max(i + j - n // 2, 0), Lt - 1)]
    return out.reshape(Bt, Ct * n, Lt)


@pytest.mark.parametrize('num_heads', [1, 2])
def test_unfold_multi_against_a_direct_computation(num_heads):
    x, text, mask = _inputs()
    bsc = BidirectionalSpatialCorrelation(
        C, text_channels=CT, num_heads=num_heads, spatial_context='unfold_multi',
        visual_kernels=(1, 3), word_windows=(1, 2, 3)).eval()
    bsc.init_weights()
    _randomize(bsc)
    x_new, fused, text_new = bsc(x, (H, W), text, mask)

    sila = bsc.pwam.image_lang_att
    m = mask.float()
    h, d = num_heads, C // num_heads
    t = text.transpose(1, 2)  # (B, CT, L)
    key = _conv(sila.f_key, t) * m[:, None]
    value = _conv(sila.f_value, t) * m[:, None]
    bias = (m - 1) * 1e4
    xc = x.transpose(1, 2)  # (B, C, N)
    q1 = _instance_norm(_conv(sila.f_query, xc))
    mods = bsc.t2i_queries['k3']
    red = _instance_norm(_conv(mods['reduce'], xc)).reshape(B, -1, H, W)
    q3 = _instance_norm(_conv(mods['expand'], _neighbourhoods(red, 3)))
    w = torch.softmax(bsc.t2i_mix, 0)
    attn = 0
    for wk, q in zip(w, (q1, q3)):
        lg = torch.einsum('bhdn,bhdl->bhnl', q.reshape(B, h, d, -1), key.reshape(B, h, d, -1))
        attn = attn + wk * torch.softmax(lg * C**-0.5 + bias[:, None, None], -1)
    lang = torch.einsum('bhdl,bhnl->bhdn', value.reshape(B, h, d, -1), attn).reshape(B, C, -1)
    lang = _instance_norm(_conv(sila.W, lang))
    vis = torch.nn.functional.gelu(_conv(bsc.pwam.vis_project, xc))
    ref_fused = torch.nn.functional.gelu(_conv(bsc.pwam.project_mm, vis * lang)).transpose(1, 2)
    torch.testing.assert_close(fused, ref_fused, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(x_new, bsc.gate(ref_fused, identity=x), rtol=1e-4, atol=1e-5)

    keys = _instance_norm(_conv(bsc.i2t_keys, xc)).reshape(B, h, d, -1)  # (B, h, d, N)
    vals = bsc.text_value(x).reshape(B, -1, h, d).transpose(1, 2)  # (B, h, N, d)
    probs = 0
    for wn, n in zip(torch.softmax(bsc.i2t_mix, 0), (1, 2, 3)):
        mods = bsc.i2t_queries[f'n{n}']
        r = _conv(mods['reduce'], t)
        q = _conv(mods['expand'], _ngrams(r, n) if n > 1 else r)  # (B, C, L)
        lg = torch.einsum('bhdl,bhdn->bhln', q.reshape(B, h, d, -1), keys) * C**-0.5
        probs = probs + wn * torch.softmax(lg, -1)
    words = torch.einsum('bhln,bhnd->bhld', probs, vals).transpose(1, 2).reshape(B, -1, C)
    upd = text + bsc.text_gate(bsc.text_up(words))
    ref_text = torch.where(m[..., None].bool(), upd, text)
    torch.testing.assert_close(text_new, ref_text, rtol=1e-4, atol=1e-5)
    assert torch.equal(text_new[0, 3:], text[0, 3:])  # padding untouched


def test_unfold_multi_gradients_and_kernel_one_is_pwam():
    x, text, mask = _inputs()
    bsc = BidirectionalSpatialCorrelation(C, text_channels=CT, num_heads=2,
                                          spatial_context='unfold_multi')
    bsc.init_weights()
    _randomize(bsc)
    x_new, fused, text_new = bsc(x, (H, W), text, mask)
    random_projection_loss(x_new, fused, text_new).backward()
    assert_every_parameter_learns(bsc.named_parameters())
    assert not len(bsc.context)  # no dilated convs in this mode
    # with only k = 1 and no image->text the block is PWAM + gate
    one = BidirectionalSpatialCorrelation(C, text_channels=CT, num_heads=2,
                                          spatial_context='unfold_multi', visual_kernels=(1, ),
                                          bidirectional=False).eval()
    _randomize(one)
    pwam = PWAM(C, text_channels=CT, num_heads=2).eval()
    pwam.load_state_dict(one.pwam.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(one(x, (H, W), text, mask)[1], pwam(x, text, mask),
                                   rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match='odd'):
        BidirectionalSpatialCorrelation(C, text_channels=CT, spatial_context='unfold_multi',
                                        visual_kernels=(2, ))


@pytest.mark.parametrize('context', ['multi_dilation', 'unfold_multi'])
def test_float32_under_autocast_gives_the_float32_result(context):
    """By default BSC leaves a bfloat16 autocast region: the same values as in float32, bit
    for bit; with the switch off it runs in bfloat16 and differs."""
    x, text, mask = _inputs()
    bsc = BidirectionalSpatialCorrelation(C, text_channels=CT, num_heads=2,
                                          spatial_context=context)
    bsc.init_weights()
    _randomize(bsc)
    ref = bsc(x, (H, W), text, mask)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = bsc(x, (H, W), text, mask)
    for a, b in zip(got, ref):
        assert a.dtype == torch.float32
        assert torch.equal(a, b)
    bsc.float32_under_autocast = False
    with torch.autocast('cpu', dtype=torch.bfloat16):
        low = bsc(x, (H, W), text, mask)
    assert not torch.equal(low[1].float(), ref[1])


@pytest.mark.parametrize('context', ['none', 'unfold_multi'])
def test_text_update_norm(context):
    """``text_update_norm``: the word update reads the LayerNormed message, so it does not
    grow with the message's scale (without it, it does); the norm's parameters learn."""
    x, text, mask = _inputs()
    kw = dict(text_channels=CT, spatial_context=context, num_heads=2)
    normed = BidirectionalSpatialCorrelation(C, text_update_norm=True, **kw)
    plain = BidirectionalSpatialCorrelation(C, **kw)
    normed.init_weights()
    _randomize(normed)
    plain.load_state_dict(normed.state_dict(), strict=False)  # same weights, no norm
    words = torch.randn(B, L, C, generator=torch.Generator().manual_seed(3))
    m = mask.float()
    ln = torch.nn.functional.layer_norm(words, (C, ), normed.text_msg_norm.weight,
                                        normed.text_msg_norm.bias)
    expected = text + m[..., None] * normed.text_gate(normed.text_up(ln))  # independent
    torch.testing.assert_close(normed._update_text(text, m, words), expected)
    torch.testing.assert_close(normed._update_text(text, m, 1e3 * words), expected,
                               rtol=1e-4, atol=1e-4)  # scale-free
    grow = (plain._update_text(text, m, 1e3 * words) - text).norm()
    assert grow > 100 * (plain._update_text(text, m, words) - text).norm()
    x_new, fused, text_new = normed(x, (H, W), text, mask)
    random_projection_loss(x_new, fused, text_new).backward()
    assert normed.text_msg_norm.weight.grad.abs().sum() > 0
    assert 'text_msg_norm.weight' not in plain.state_dict()  # default: no new weights
