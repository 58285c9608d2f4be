# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest
import torch
from mmseg.registry import MODELS
from mmrrsis.testing import assert_every_parameter_learns, random_projection_loss, tmem_zeros

IN_CHANNELS = [8, 16, 32, 64]


def _inputs(B=2):
    torch.manual_seed(0)
    feats = [torch.randn(B, c, 16 // 2**i, 16 // 2**i, requires_grad=True)
             for i, c in enumerate(IN_CHANNELS)]
    text = torch.randn(B, 5, 12)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])[:B]
    return feats, text, mask


@pytest.mark.parametrize('num_blocks', [1, 3])
def test_shapes_blocks_and_gradients(num_blocks):
    neck = MODELS.build(dict(type='TMEMNeck', in_channels=IN_CHANNELS, text_channels=12,
                             num_blocks=num_blocks))
    assert len(neck.blocks) == num_blocks
    assert neck.channel_down.out_channels == sum(IN_CHANNELS) // 4  # 1920 -> 480 for Swin-B
    feats, text, mask = _inputs()
    outs = neck(feats, text, mask)
    assert [o.shape for o in outs] == [f.shape for f in feats]
    random_projection_loss(*outs).backward()
    assert_every_parameter_learns(neck.named_parameters(), tmem_zeros('', num_blocks))
    assert all(f.grad is not None for f in feats)


def test_text_matters_and_padding_does_not():
    neck = MODELS.build(dict(type='TMEMNeck', in_channels=IN_CHANNELS, text_channels=12)).eval()
    feats, text, mask = _inputs()
    with torch.no_grad():
        base = neck(feats, text, mask)
        other = neck(feats, text + 1, mask)
        text_pad = text.clone()
        text_pad[0, 3:] = 100.  # padded words of sample 0
        padded = neck(feats, text_pad, mask)
    assert not torch.allclose(base[0], other[0])
    torch.testing.assert_close(base[0][0], padded[0][0])


def test_wrong_number_of_levels():
    neck = MODELS.build(dict(type='TMEMNeck', in_channels=IN_CHANNELS, text_channels=12))
    feats, text, mask = _inputs()
    with pytest.raises(ValueError, match='levels'):
        neck(feats[:3], text, mask)
    with pytest.raises(ValueError, match='num_blocks'):
        MODELS.build(dict(type='TMEMNeck', in_channels=IN_CHANNELS, num_blocks=0))
