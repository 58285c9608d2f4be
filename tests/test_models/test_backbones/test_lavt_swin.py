# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest
import torch

import mmrrsis  # noqa: F401  (fills the registries)
from mmrrsis.models.backbones import LAVTSwinTransformer
from mmseg.models.backbones import SwinTransformer
from mmseg.registry import MODELS
from mmrrsis.testing import assert_every_parameter_learns, random_projection_loss

TEXT_DIM = 24
# The smallest Swin that still has shifted windows, padding and all four stages.
ARCH = dict(
    embed_dims=16,
    depths=(2, 2, 2, 1),
    num_heads=(1, 2, 2, 4),
    window_size=2,
    drop_path_rate=0.0,
    pretrain_img_size=64)


def _inputs(batch=2, size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    img = torch.randn(batch, 3, size, size, generator=g)
    text = torch.randn(batch, 6, TEXT_DIM, generator=g)
    mask = torch.ones(batch, 6, dtype=torch.long)
    mask[0, 4:] = 0
    return img, text, mask


def _build(**kwargs):
    cfg = dict(type='LAVTSwinTransformer', text_dim=TEXT_DIM, **ARCH)
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    assert isinstance(model, LAVTSwinTransformer)
    model.init_weights()
    return model


def test_output_shapes():
    model = _build().eval()
    img, text, mask = _inputs()
    outs = model(img, text, mask)
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [(2, 16, 16, 16), (2, 32, 8, 8), (2, 64, 4, 4),
                                              (2, 128, 2, 2)]
    # a size that is not a multiple of the window or of 32 (padding, odd merging)
    outs = model(torch.randn(1, 3, 40, 56), text[:1], mask[:1])
    assert [tuple(o.shape[2:]) for o in outs] == [(10, 14), (5, 7), (3, 4), (2, 2)]
    assert sorted(model.pwams.keys()) == ['0', '1', '2', '3']
    assert sorted(model.gates.keys()) == ['0', '1', '2']  # the last gate would feed nothing


def test_padding_tokens_do_not_change_output():
    model = _build().eval()
    img, text, mask = _inputs()
    perturbed = text.clone()
    perturbed[mask == 0] = 50 * torch.randn(int((mask == 0).sum()), TEXT_DIM)
    for a, b in zip(model(img, text, mask), model(img, perturbed, mask)):
        assert torch.equal(a, b)
    # the real words do matter, in every stage
    changed = text.clone()
    changed[0, 0] += 1
    for a, b in zip(model(img, text, mask), model(img, changed, mask)):
        assert not torch.allclose(a[0], b[0])
        assert torch.equal(a[1], b[1])


def test_gradients_reach_every_parameter():
    model = _build(fusion_stages=(0, 1, 2, 3)).train()
    img, text, mask = _inputs()
    # o.mean() of the normalised outputs would be ~constant (zero gradients before the norms)
    random_projection_loss(*model(img, text, mask)).backward()
    assert_every_parameter_learns(model.named_parameters())


def test_without_fusion_equals_mmseg_swin():
    swin = SwinTransformer(**ARCH)
    swin.eval()  # MMSeg's SwinTransformer.train() returns None
    model = _build(fusion_stages=()).eval()
    model.load_state_dict(swin.state_dict())
    img, text, mask = _inputs()
    for a, b in zip(model(img, text, mask), swin(img)):
        torch.testing.assert_close(a, b)


def test_stage_output_is_normalized_pwam_output():
    model = _build(fusion_stages=(1, ), out_indices=(0, 1)).eval()
    img, text, mask = _inputs()
    captured = {}
    model.pwams['1'].register_forward_hook(lambda m, i, o: captured.setdefault('f', o))
    outs = model(img, text, mask)
    expected = model.norm1(captured['f']).view(2, 8, 8, 32).permute(0, 3, 1, 2)
    torch.testing.assert_close(outs[1], expected)
    assert len(outs) == 2


def test_gate_switch():
    model = _build(gate=False).eval()
    assert len(model.gates) == 0
    img, text, mask = _inputs()
    assert len(model(img, text, mask)) == 4
    with pytest.raises(ValueError):
        _build(fusion_stages=(3, ), out_indices=(0, 1, 2))
    with pytest.raises(ValueError):
        _build(pwam_num_heads=(1, 2))


def test_mmseg_swin_state_dict_loads_into_swin_part():
    swin_sd = SwinTransformer(**ARCH).state_dict()
    model = _build()
    own_sd = model.state_dict()
    for key, value in swin_sd.items():
        assert key in own_sd, key
        assert own_sd[key].shape == value.shape, key
    result = model.load_state_dict(swin_sd, strict=False)
    assert not result.unexpected_keys
    assert all(k.startswith(('pwams.', 'gates.')) for k in result.missing_keys)
    fusion_keys = {k for k in own_sd if k.startswith(('pwams.', 'gates.'))}
    assert set(result.missing_keys) == fusion_keys
    for key, value in swin_sd.items():
        assert torch.equal(model.state_dict()[key], value), key


def test_pretrained_init_resizes_relative_position_tables(tmp_path):
    """An ImageNet checkpoint with another window size (window 12 / 384 case) loads."""
    swin = SwinTransformer(**ARCH)
    swin.init_weights()
    ckpt = tmp_path / 'swin_w2.pth'
    torch.save({'state_dict': swin.state_dict()}, ckpt)
    model = _build(window_size=4, init_cfg=dict(type='Pretrained', checkpoint=str(ckpt)))
    torch.testing.assert_close(model.patch_embed.projection.weight,
                               swin.patch_embed.projection.weight)
    table = model.stages[0].blocks[0].attn.w_msa.relative_position_bias_table
    assert table.shape == (7 * 7, 1)
    # the fusion modules are initialised as in LAVT, not left untouched
    assert model.gates['0'].gate[0].weight.std() < 0.05
    img, text, mask = _inputs(batch=1)
    assert all(torch.isfinite(o).all() for o in model(img, text, mask))


def test_sincos_abs_pos_embed_init():
    import math
    model = _build(use_abs_pos_embed=True, abs_pos_embed_init='sincos')
    pos = model.absolute_pos_embed.detach()
    assert pos.shape == (1, 16 * 16, 16)
    # token (row 3, col 5) of the 16x16 grid, channel k of each quarter (4 channels each)
    tok = pos[0, 3 * 16 + 5]
    for k in range(4):
        w = 1. / 10000**(k / 4)
        expected = [math.sin(5 * w), math.cos(5 * w), math.sin(3 * w), math.cos(3 * w)]
        got = [float(tok[q * 4 + k]) for q in range(4)]
        assert got == pytest.approx(expected, abs=1e-6)
    assert model.absolute_pos_embed.requires_grad  # still learned
    default = _build(use_abs_pos_embed=True)
    assert float(default.absolute_pos_embed.abs().max()) < 0.1  # trunc-normal, std 0.02
    with pytest.raises(ValueError, match='abs_pos_embed_init'):
        _build(abs_pos_embed_init='learned')


def test_pwam_coordinate_features():
    """Every stage's PWAM receives that stage's grid, also for padded, non-square inputs."""
    model = _build(pwam_coord_feats=True).eval()
    assert all(p.vis_project[0].in_channels == p.channels + 2 for p in model.pwams.values())
    grids = []
    for p in model.pwams.values():
        p.register_forward_hook(lambda m, args, out: grids.append(args[3]))
    img, text, mask = _inputs()
    outs = model(torch.randn(1, 3, 40, 56), text[:1], mask[:1])
    assert grids == [(10, 14), (5, 7), (3, 4), (2, 2)]
    assert [tuple(o.shape[2:]) for o in outs] == grids
