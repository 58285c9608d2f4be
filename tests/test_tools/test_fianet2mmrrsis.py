# Copyright (c) mmrrsis contributors. All rights reserved.
"""tools/model_converters/fianet2mmrrsis.py on the FIANet-specific keys of a tiny model.

The official names are written here by hand (``lib/backbone.py``: ``MMBasicLayer``, ``OPAB``;
``lib/text_aware_multiscale_enhancement.py``: ``TMEM``); the Swin, decoder and BERT keys are
LAVT's and covered by test_lavt2mmrrsis.py.
"""
import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmseg.registry import MODELS

from mmrrsis.testing.tiny_models import make_tiny_bert, tiny_segmentor_cfg

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'model_converters' / 'fianet2mmrrsis.py'
SIZES = [16, 32, 64, 128]


def _tool():
    spec = importlib.util.spec_from_file_location('fianet2mmrrsis', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _model(tmp_path):
    cfg = tiny_segmentor_cfg(make_tiny_bert(str(tmp_path / 'bert'), weights=False))
    cfg.text_encoder.pretrained = False
    cfg.type = 'FIANetEncoderDecoder'
    cfg.text_encoder.type = 'DecoupledTextEncoder'
    cfg.backbone.type = 'FIANetSwinTransformer'
    cfg.neck = ConfigDict(type='TMEMNeck', in_channels=SIZES, text_channels=32, num_blocks=2)
    return MODELS.build(cfg)


def _official(model):
    """A fake official state dict of the FIANet-only parts, shapes from the tiny model."""
    own = model.state_dict()
    torch.manual_seed(0)

    def rand_like(key):
        t = own[key]
        return torch.randint_like(t, 5) if t.dtype == torch.long else torch.randn_like(t)

    state = {}
    for i, c in enumerate(SIZES):
        layer, bb = f'backbone.layers.{i}.', 'backbone.'
        for k in own:
            if k.startswith(f'{bb}pwams.{i}.'):
                state[layer + 'context_pixel_attn.' + k[len(f'{bb}pwams.{i}.'):]] = rand_like(k)
        opab = layer + 'object_position_align_blk.'
        sila = [k[len(f'{bb}pwams.{i}.image_lang_att.'):] for k in own
                if k.startswith(f'{bb}pwams.{i}.image_lang_att.')]
        for name in sila:
            shape = own[f'{bb}pwams.{i}.image_lang_att.{name}'].shape
            state[opab + 'go_cross_attn.' + name] = torch.randn(shape)
            state[opab + 'sp_cross_attn.' + name] = torch.randn(shape)
        for j in (0, 2):
            state[layer + f'context_tanh_gate.{j}.weight'] = torch.randn(c, c)
            state[opab + f'go_tanh_gating.{j}.weight'] = torch.randn(c, c)
        state[opab + 'go_embedding.weight'] = torch.randn(c, c)
        state[opab + 'conv1.weight'] = torch.randn(1, 2, 3, 3)
        state[layer + 'fc1.weight'] = torch.randn(c // 8, c)
        state[layer + 'fc1.bias'] = torch.randn(c // 8)
        state[layer + 'fc2.weight'] = torch.randn(c, c // 8)
        state[layer + 'fc2.bias'] = torch.randn(c)
    tmem = 'backbone.tmem.'
    for k in own:
        if not k.startswith('neck.'):
            continue
        name = k[len('neck.'):]
        for dst, src in (('channel_down.', 'down_channel.'), ('channel_up.', 'up_channel.'),
                         ('norm.', 'bn.')):
            if name.startswith(dst):
                state[tmem + src + name[len(dst):]] = rand_like(k)
        if name.startswith('blocks.'):
            _, b, part, rest = name.split('.', 3)
            src = {'norm1': 'norm1', 'cross_attn': 'tma', 'norm2': 'norm2', 'ffn': 'ff.net'}
            state[f'{tmem}block.{b}.{src[part]}.{rest}'] = rand_like(k)
    for i, c in enumerate(SIZES):
        for conv, bn in (('local_embedding', 'bn1'), ('global_embedding', 'bn2'),
                         ('global_act', 'bn3')):
            state[f'{tmem}fusion.{i}.{conv}.weight'] = torch.randn(c, c, 1, 1)
            state[f'{tmem}fusion.{i}.{conv}.bias'] = torch.randn(c)
            state[f'{tmem}fusion.{i}.{bn}.weight'] = torch.rand(c) + .5
            state[f'{tmem}fusion.{i}.{bn}.bias'] = torch.randn(c)
            state[f'{tmem}fusion.{i}.{bn}.running_mean'] = torch.randn(c)
            state[f'{tmem}fusion.{i}.{bn}.running_var'] = torch.rand(c) + .5
            state[f'{tmem}fusion.{i}.{bn}.num_batches_tracked'] = torch.tensor(7)
    return state


def test_fianet_parts_convert_and_load(tmp_path):
    model = _model(tmp_path)
    official = _official(model)
    converted, dropped, unmapped = _tool().convert_fianet(official)
    assert not unmapped
    assert all('go_embedding' in k or '.layers.3.' in k for k in dropped)
    assert any('go_embedding' in k for k in dropped)
    own = model.state_dict()
    fianet_keys = {k for k in own if k.startswith(('backbone.pwams', 'backbone.gates',
                                                   'backbone.opabs', 'backbone.channel_mods',
                                                   'neck.'))}
    assert set(converted) == fianet_keys
    assert all(converted[k].shape == own[k].shape for k in converted)
    model.load_state_dict(converted, strict=False)

    # the folded conv bias: BN(conv(x) + b) with the official stats == the converted ConvModule
    model.eval()
    x = torch.randn(2, 16, 4, 4)
    p = 'backbone.tmem.fusion.0.'
    ref = F.conv2d(x, official[p + 'local_embedding.weight'], official[p + 'local_embedding.bias'])
    ref = F.batch_norm(ref, official[p + 'bn1.running_mean'], official[p + 'bn1.running_var'],
                       official[p + 'bn1.weight'], official[p + 'bn1.bias'], training=False)
    with torch.no_grad():
        torch.testing.assert_close(model.neck.local_embeds[0](x), ref, atol=1e-5, rtol=1e-5)


def test_cli_writes_a_loadable_file(tmp_path):
    model = _model(tmp_path)
    src, dst = tmp_path / 'fianet.pth', tmp_path / 'out' / 'mm.pth'
    torch.save({'model': _official(model)}, src)
    assert _tool().main([str(src), str(dst), '--strict']) == 0
    state = torch.load(dst, map_location='cpu', weights_only=True)['state_dict']
    assert 'neck.blocks.1.cross_attn.f_key.0.weight' in state


def test_command_line_is_fianet_own(capsys):
    import pytest
    tool = _tool()
    with pytest.raises(SystemExit):
        tool.main(['--help'])
    help_text = capsys.readouterr().out
    assert 'FIANet' in help_text and 'LAVT-RIS' not in help_text and '--bert-src' not in help_text
    with pytest.raises(SystemExit):
        tool.main(['a.pth', 'b.pth', '--bert-src', 'c.pth'])  # no ignored option
