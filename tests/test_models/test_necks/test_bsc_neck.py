# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest
import torch

import mmrrsis  # noqa: F401  (fills the registries)
from mmseg.registry import MODELS
from mmrrsis.testing import assert_every_parameter_learns, random_projection_loss

TEXT_DIM = 24


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    """Tiny tensors gain nothing from intra-op threads; on a shared CPU they cost 5-10x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _inputs():
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(2, c, s, s, generator=g) for c, s in ((8, 16), (16, 8), (32, 4))]
    text = torch.randn(2, 5, TEXT_DIM, generator=g)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    return feats, text, mask


@pytest.mark.parametrize('out_type', ['residual', 'fusion'])
def test_shapes_text_and_gradients(out_type):
    neck = MODELS.build(dict(type='BSCNeck', in_channels=[16, 32], in_index=[1, 2],
                             text_dim=TEXT_DIM, out_type=out_type,
                             bsc_cfg=dict(spatial_context='multi_dilation')))
    neck.init_weights()
    feats, text, mask = _inputs()
    outs = neck(feats, text, mask)
    assert [o.shape for o in outs] == [f.shape for f in feats]
    assert outs[0] is feats[0]  # level 0 not fused
    outs2, (text_new, _) = neck(feats, text, mask, return_text=True)
    assert text_new.shape == text.shape and (text_new - text).abs().max() > 0
    random_projection_loss(*outs2[1:], text_new).backward()
    assert_every_parameter_learns(neck.named_parameters())
    assert (neck.bscs[0].gate is None) == (out_type == 'fusion')


def test_words_flow_from_level_to_level():
    neck = MODELS.build(dict(type='BSCNeck', in_channels=[8, 16, 32], text_dim=TEXT_DIM,
                             bidirectional=[True, False, False]))
    neck.init_weights()
    feats, text, mask = _inputs()
    # only level 0 updates the words; level 1 sees the updated words, so changing the image at
    # level 0 changes level 1's output
    out_a = neck(feats, text, mask)[1]
    feats_b = [feats[0] * 2 + 1] + feats[1:]
    out_b = neck(feats_b, text, mask)[1]
    assert (out_a - out_b).abs().max() > 0
