# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest
import torch
from mmseg.registry import MODELS
from mmrrsis.testing import assert_every_parameter_learns

IN_CHANNELS = [8, 16, 32, 64]


def _inputs(B=2):
    torch.manual_seed(0)
    feats = [torch.randn(B, c, 16 // 2**i, 16 // 2**i, requires_grad=True)
             for i, c in enumerate(IN_CHANNELS)]
    text = torch.randn(B, 5, 12)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])[:B]
    return feats, text, mask


def _neck(**kwargs):
    cfg = dict(type='LGCENeck', in_channels=IN_CHANNELS, text_channels=12, num_heads=4)
    return MODELS.build({**cfg, **kwargs})


@pytest.mark.parametrize('stage_pair', [(2, 3), (0, 3), (1, 2)])
def test_shapes_pair_and_gradients(stage_pair):
    neck = _neck(stage_pair=stage_pair)
    feats, text, mask = _inputs()
    outs = neck(feats, text, mask)
    assert [o.shape for o in outs] == [f.shape for f in feats]
    for i, (o, f) in enumerate(zip(outs, feats)):
        assert (o is f) == (i not in stage_pair)  # other levels pass through
    sum(outs[i].square().mean() for i in stage_pair).backward()
    assert_every_parameter_learns(neck.named_parameters())


def test_sentence_guides_and_padding_is_masked():
    neck = _neck().eval()
    feats, text, mask = _inputs()
    with torch.no_grad():
        base = neck(feats, text, mask)
        other = neck(feats, text + 1, mask)
        text_pad = text.clone()
        text_pad[0, 3:] = 100.
        padded = neck(feats, text_pad, mask)
        plain = _neck(masked_mean=False).eval()
        plain.load_state_dict(neck.state_dict())
        unmasked = plain(feats, text_pad, mask)
    assert not torch.allclose(base[3], other[3])
    torch.testing.assert_close(base[3][0], padded[3][0])
    assert not torch.allclose(base[3][0], unmasked[3][0])  # the third-party plain mean


def test_invalid_arguments():
    with pytest.raises(ValueError, match='stage_pair'):
        _neck(stage_pair=(3, 2))
    with pytest.raises(ValueError, match='num_heads'):
        _neck(num_heads=3)
