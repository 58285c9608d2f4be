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


def _port_reference(neck, feats, text):
    """The RRSECS port's computation that reaches its output, written out with plain tensor
    operations on the neck's weights: guide = mean of all L word features (padding included)
    -> linear; [g; F] -> timm ViT blocks (pre-LN MHA without qkv bias, GELU MLP); pixels kept."""
    import torch.nn.functional as F
    sd = {k: v.detach() for k, v in neck.state_dict().items()}
    guide_in = text.mean(1)
    outs = list(feats)
    for level, name, prefix in ((2, 'guide_shallow', 'layers_shallow'),
                                (3, 'guide_deep', 'layers_deep')):
        f = feats[level]
        B, C, H, W = f.shape
        g = guide_in @ sd[f'{name}.weight'].T + sd[f'{name}.bias']
        z = torch.cat([g[:, None], f.flatten(2).transpose(1, 2)], dim=1)
        blocks = sorted({int(k.split('.')[1]) for k in sd if k.startswith(prefix + '.')})
        for i in blocks:
            p = f'{prefix}.{i}.'
            h = getattr(neck, prefix)[i].num_heads
            y = F.layer_norm(z, (C, ), sd[p + 'norm1.weight'], sd[p + 'norm1.bias'])
            q, k, v = (y @ sd[p + 'attn.qkv.weight'].T).reshape(B, -1, 3, h, C // h).permute(
                2, 0, 3, 1, 4)
            a = torch.softmax(q @ k.transpose(-1, -2) * (C // h)**-0.5, dim=-1) @ v
            z = z + a.transpose(1, 2).reshape(B, -1, C) @ sd[p + 'attn.proj.weight'].T + \
                sd[p + 'attn.proj.bias']
            y = F.layer_norm(z, (C, ), sd[p + 'norm2.weight'], sd[p + 'norm2.bias'])
            y = F.gelu(y @ sd[p + 'mlp.fc1.weight'].T + sd[p + 'mlp.fc1.bias'])
            z = z + y @ sd[p + 'mlp.fc2.weight'].T + sd[p + 'mlp.fc2.bias']
        outs[level] = z[:, 1:].transpose(1, 2).reshape(B, C, H, W)
    return outs


def test_port_variant_is_the_ports_computation():
    """variant='port': the port's values (stage 3: 1 block, stage 4: 3 blocks, MLP ratio 2, no
    qkv bias, plain mean over the padded words) against the computation written out."""
    neck = _neck(variant='port', num_heads=(2, 4), depth=(1, 3), mlp_ratio=2.).double().eval()
    assert len(neck.layers_shallow) == 1 and len(neck.layers_deep) == 3
    assert not hasattr(neck, 'cross_shallow')  # the port's fusion never reaches its output
    assert neck.layers_deep[0].attn.qkv.bias is None and not neck.masked_mean
    feats, text, mask = _inputs()
    feats = [f.detach().double() for f in feats]
    text = text.double()
    with torch.no_grad():
        out = neck(feats, text, mask)
    for got, want in zip(out, _port_reference(neck, feats, text)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    # padding words count in the port's guide: changing them changes the output
    text_pad = text.clone()
    text_pad[0, 3:] = 5.
    with torch.no_grad():
        assert not torch.allclose(neck(feats, text_pad, mask)[3][0], out[3][0])
    # every parameter of the port variant reaches the output
    neck = _neck(variant='port', num_heads=(2, 4), depth=(1, 3), mlp_ratio=2.)
    feats, text, mask = _inputs()
    from mmrrsis.testing import random_projection_loss
    random_projection_loss(*neck(feats, text, mask)[2:]).backward()
    assert_every_parameter_learns(neck.named_parameters())
    with pytest.raises(ValueError, match="variant must be"):
        _neck(variant='crossvit')
