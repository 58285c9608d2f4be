# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmrrsis  # noqa: F401  (fills the registries)
from mmrrsis.testing import assert_every_parameter_learns

TEXT_DIM = 24


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    """Tiny tensors gain nothing from intra-op threads; on a shared CPU they cost 5-10x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _inputs(batch=2):
    g = torch.Generator().manual_seed(0)
    feats = tuple(torch.randn(batch, c, s, s, generator=g)
                  for c, s in ((8, 16), (16, 8), (32, 4), (64, 2)))
    text = torch.randn(batch, 5, TEXT_DIM, generator=g)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])[:batch]
    return feats, text, mask


def _samples(batch=2, size=64):
    samples = []
    for _ in range(batch):
        s = SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                        pad_shape=(size, size)))
        gt = torch.zeros(1, size, size, dtype=torch.long)
        gt[:, 8:30, 10:40] = 1
        s.gt_sem_seg = PixelData(data=gt)
        samples.append(s)
    return samples


def _build(**kwargs):
    cfg = dict(type='TBTDHead', in_channels=[8, 16, 32, 64], channels=16, text_dim=TEXT_DIM,
               query_heads=2, loss_decode=dict(type='CrossEntropyLoss',
                                               class_weight=[0.9, 1.1]))
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


@pytest.mark.parametrize('mci', ['aspp', 'concat', 'lavt'])
@pytest.mark.parametrize('query_decoder', [True, False])
def test_shapes_losses_and_gradients(mci, query_decoder):
    head = _build(mci=mci, query_decoder=query_decoder)
    assert not hasattr(head, 'conv_seg')
    feats, text, mask = _inputs()
    z_fg, z_bg = head.stream_logits(feats, text, mask)
    assert z_fg.shape == z_bg.shape == (2, 1, 16, 16)
    assert head(feats, text, mask).shape == (2, 2, 16, 16)
    losses = head.loss(feats, _samples(), {}, text_feats=text, text_mask=mask)
    assert set(losses) == {'loss_ce', 'acc_seg', 'loss_fg', 'loss_bg'}
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert_every_parameter_learns(head.named_parameters())


def test_combination_rules():
    feats, text, mask = _inputs()
    head = _build(combine='softmax_pair').eval()
    z_fg, z_bg = head.stream_logits(feats, text, mask)
    logits = head(feats, text, mask)
    torch.testing.assert_close(logits.softmax(1)[:, 1:], torch.sigmoid(z_fg - z_bg))

    head.combine = 'product'
    logits = head(feats, text, mask)
    p_fg = torch.sigmoid(z_fg) * (1 - torch.sigmoid(z_bg))
    torch.testing.assert_close(logits.softmax(1)[:, 1:], p_fg, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(logits.exp().sum(1), torch.ones_like(logits[:, 0]),
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError):
        _build(combine='max')


def test_text_conditions_the_prediction_and_single_stream():
    feats, text, mask = _inputs()
    head = _build().eval()
    assert (head(feats, text, mask) - head(feats, text + 1, mask)).abs().max() > 0
    # padding words do not matter (masked mean)
    text2 = text.clone()
    text2[0, 3:] = 100
    torch.testing.assert_close(head(feats, text, mask), head(feats, text2, mask))

    single = _build(single_stream=True, lambda_aux=0.4)
    assert 'bg' not in single.towers
    logits = single(feats, text, mask)
    assert logits.shape == (2, 2, 16, 16) and not logits[:, 0].any()
    losses = single.loss(feats, _samples(), {}, text_feats=text, text_mask=mask)
    assert 'loss_fg' in losses and 'loss_bg' not in losses
    assert 'loss_fg' not in _build(lambda_aux=0).loss(feats, _samples(), {}, text_feats=text,
                                                        text_mask=mask)


def test_predict_resizes_to_the_input():
    feats, text, mask = _inputs()
    head = _build().eval()
    metas = [dict(img_shape=(64, 64), pad_shape=(64, 64))] * 2
    assert head.predict(feats, metas, {}, text_feats=text, text_mask=mask).shape == (2, 2, 64, 64)


def test_twin_losses_skip_ignored_pixels():
    import torch.nn.functional as F
    from mmseg.models.utils import resize
    feats, text, mask = _inputs()
    head = _build(loss_decode=dict(type='CrossEntropyLoss'), lambda_aux=0.5).eval()
    samples = _samples()
    for s in samples:
        s.gt_sem_seg.data[:, -4:] = 255
    losses = head.loss(feats, samples, {}, text_feats=text, text_mask=mask)
    z_fg, z_bg = head.stream_logits(feats, text, mask)
    label = torch.stack([s.gt_sem_seg.data for s in samples]).float()
    valid = label != 255
    for key, z, y in (('loss_fg', z_fg, label), ('loss_bg', z_bg, 1 - label)):
        z = resize(z, size=(64, 64), mode='bilinear', align_corners=True)
        expected = 0.5 * F.binary_cross_entropy_with_logits(z[valid], y[valid])
        torch.testing.assert_close(losses[key], expected)


def test_coordinate_features():
    """``coord_feats=True`` adds W * (x, y) + b to D before the query decoder and towers."""
    head = _build(mci='lavt', coord_feats=True).eval()
    feats, text, mask = _inputs()
    d_seen = []
    head.towers['fg'].register_forward_pre_hook(lambda m, args: d_seen.append(args[0]))
    z_fg, _ = head.stream_logits(feats, text, mask)
    d = head.decode_feature(feats)
    xs = (torch.arange(16) * 2 + 1) / 16 - 1  # pixel centres of the 16 x 16 map
    coords = torch.stack(torch.meshgrid(xs, xs, indexing='xy'))  # (2, H, W): x, y
    w, b = head.coord_proj.weight[:, :, 0, 0], head.coord_proj.bias
    expected = d + (torch.einsum('ck,khw->chw', w, coords) + b[:, None, None])[None]
    torch.testing.assert_close(d_seen[0], expected)
    # gradients reach the projection
    losses = head.loss(feats, _samples(), {}, text_feats=text, text_mask=mask)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert head.coord_proj.weight.grad.abs().sum() > 0
    assert _build().coord_proj is None


@pytest.mark.parametrize('query_decoder', [True, False])
def test_learned_background_query_does_not_read_the_expression(query_decoder):
    head = _build(bg_query='learned', query_decoder=query_decoder)
    assert set(head.query_mlps) == {'fg'}
    feats, text, mask = _inputs()
    other = torch.randn_like(text)
    z_fg, z_bg = head.stream_logits(feats, text, mask)
    z_fg2, z_bg2 = head.stream_logits(feats, other, mask)
    torch.testing.assert_close(z_bg, z_bg2, rtol=0, atol=0)  # same image, other words
    assert (z_fg - z_fg2).abs().max() > 0
    if not query_decoder:  # independent computation: <e_bg, Tower_bg(D)> / sqrt(C)
        d = head.decode_feature(feats)
        ref = torch.einsum('c,bchw->bhw', head.query_embed[1],
                           head.towers['bg'](d)).unsqueeze(1) * head.channels**-0.5
        torch.testing.assert_close(z_bg, ref, rtol=1e-5, atol=1e-6)
    losses = head.loss(feats, _samples(), None, text_feats=text, text_mask=mask)
    sum(losses.values()).backward()
    missing = [n for n, p in head.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, missing
    with pytest.raises(ValueError, match='bg_query'):
        _build(bg_query='image')
