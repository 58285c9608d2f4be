# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest
import torch

import mmrrsis  # noqa: F401  (fills the registries)
from mmrrsis.models.backbones import BSCSwinTransformer
from mmseg.registry import MODELS
from mmrrsis.testing import assert_every_parameter_learns, random_projection_loss

TEXT_DIM = 24
ARCH = dict(embed_dims=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4), window_size=2,
            drop_path_rate=0.0, pretrain_img_size=64)


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    """Tiny tensors gain nothing from intra-op threads; on a shared CPU they cost 5-10x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _inputs(batch=2, size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    img = torch.randn(batch, 3, size, size, generator=g)
    text = torch.randn(batch, 6, TEXT_DIM, generator=g)
    mask = torch.ones(batch, 6, dtype=torch.long)
    mask[0, 4:] = 0
    return img, text, mask


def _build(type='BSCSwinTransformer', **kwargs):
    model = MODELS.build(dict(type=type, text_dim=TEXT_DIM, **ARCH, **kwargs))
    model.init_weights()
    return model


def test_shapes_and_updated_text():
    model = _build().eval()
    assert isinstance(model, BSCSwinTransformer)
    assert not len(model.pwams) and not len(model.gates)  # replaced by bscs
    assert '3' in model.bscs and model.bscs['3'].gate is None  # last stage: gate feeds nothing
    img, text, mask = _inputs()
    outs = model(img, text, mask)
    assert [tuple(o.shape) for o in outs] == [(2, 16, 16, 16), (2, 32, 8, 8), (2, 64, 4, 4),
                                              (2, 128, 2, 2)]
    outs2, (text_new, mask_new) = model(img, text, mask, return_text=True)
    for a, b in zip(outs, outs2):
        torch.testing.assert_close(a, b)
    assert text_new.shape == text.shape and mask_new is mask
    assert not torch.allclose(text_new[1], text[1])
    torch.testing.assert_close(text_new[0, 4:], text[0, 4:])  # padding untouched


def test_bidirectional_stages_subset():
    model = _build(bidirectional_stages=(2, 3), bsc_cfg=dict(spatial_context='dwconv'))
    assert [model.bscs[str(i)].bidirectional for i in range(4)] == [False, False, True, True]
    with pytest.raises(ValueError):
        _build(fusion_stages=(0, 1, 2, 3), bidirectional_stages=(5, ))


def test_reduces_to_lavt_swin_with_the_same_weights():
    bsc = _build(bidirectional_stages=(), bsc_cfg=dict(spatial_context='none')).eval()
    lavt = _build(type='LAVTSwinTransformer').eval()
    state = {}
    for k, v in lavt.state_dict().items():
        k = k.replace('pwams.', 'bscs.').replace('.image_lang_att', '.pwam.image_lang_att')
        for part in ('vis_project', 'project_mm'):
            k = k.replace(f'.{part}', f'.pwam.{part}')
        if k.startswith('gates.'):
            i, rest = k[len('gates.'):].split('.', 1)
            k = f'bscs.{i}.gate.{rest}'
        state[k] = v
    bsc.load_state_dict(state, strict=True)
    img, text, mask = _inputs()
    for a, b in zip(bsc(img, text, mask), lavt(img, text, mask)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_every_bsc_parameter_gets_a_gradient():
    model = _build(bsc_cfg=dict(num_heads=2))
    img, text, mask = _inputs()
    outs, (text_new, _) = model(img, text, mask, return_text=True)
    random_projection_loss(*outs, text_new).backward()
    assert_every_parameter_learns(model.bscs.named_parameters())


def test_text_update_norm_reaches_every_word_updating_stage():
    """``bsc_cfg.text_update_norm`` (the full-size configs' default) builds the message norm in
    every stage that updates the words, and each norm learns (its scale-freeness is tested on
    the block, ``test_bsc.py::test_text_update_norm``)."""
    import os.path as osp

    from mmengine.config import Config
    base = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', '_base_', 'models',
                    'btdnet_swin-b_bert.py')
    assert Config.fromfile(base).model.backbone.bsc_cfg.text_update_norm is True
    model = _build(bidirectional_stages=(1, 2, 3), bsc_cfg=dict(text_update_norm=True))
    kinds = [type(model.bscs[str(i)].text_msg_norm).__name__
             if model.bscs[str(i)].bidirectional else None for i in range(4)]
    assert kinds == [None, 'LayerNorm', 'LayerNorm', 'LayerNorm']
    img, text, mask = _inputs()
    outs, (words, _) = model(img, text, mask, return_text=True)
    (sum(o.pow(2).mean() for o in outs) + words.pow(2).mean()).backward()
    for i in (1, 2, 3):
        assert model.bscs[str(i)].text_msg_norm.weight.grad.abs().sum() > 0, i
