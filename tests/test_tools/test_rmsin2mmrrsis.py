# Copyright (c) mmrrsis contributors. All rights reserved.
"""tools/model_converters/rmsin2mmrrsis.py on a fake official checkpoint of a tiny RMSIN.

The official layout is written here by hand (names from the official ``lib/backbone.py``,
``lib/cross_scale_interaction.py``, ``lib/various_receptive.py``, ``lib/mask_predictor.py`` and
``arc/``); the LAVT parts reuse the LAVT converter test's independent layout.
"""
import importlib.util
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmseg.registry import MODELS

from mmrrsis.testing.tiny_models import make_tiny_bert, tiny_segmentor_cfg

REPO = Path(__file__).resolve().parents[2]
SIZES = [16, 32, 64, 128]


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, REPO / path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


tool = _load('tools/model_converters/rmsin2mmrrsis.py', 'rmsin2mmrrsis')
lavt_test = _load('tests/test_tools/test_lavt2mmrrsis.py', 'lavt_converter_test')


def _build(bert_dir, embed=16):
    cfg = tiny_segmentor_cfg(bert_dir, backbone='lavt')
    cfg.text_encoder.pretrained = False
    cfg.type = 'RMSINEncoderDecoder'
    cfg.backbone.type = 'RMSINSwinTransformer'
    cfg.backbone.embed_dims = embed
    cfg.neck = ConfigDict(type='CIMNeck', in_channels=None, grid=(2, 2), key_dim=4, num_heads=2)
    cfg.decode_head = ConfigDict(type='RMSINHead', in_channels=None, channels=None,
                                 num_classes=2, loss_decode=dict(type='CrossEntropyLoss'))
    return MODELS.build(cfg)


@pytest.fixture(scope='module')
def bert_dir(tmp_path_factory):
    return make_tiny_bert(str(tmp_path_factory.mktemp('tiny_bert')), weights=False)


def _randomize(model):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g))
                if name.endswith('running_var'):
                    t.abs_().add_(0.5)
    return model.eval()


_CSA = {'qkv': 'attention.qkv.c', 'qkv_bn': 'attention.qkv.bn',
        'parallel_conv': 'attention.parallel_conv.1', 'proj': 'attention.proj',
        'to_out': 'attention.to_out', 'dwconv1': 'DWConv1', 'dwconv2': 'DWConv2', 'bn1': 'bn1',
        'bn4': 'bn4', 'conv': 'conv'}
_SAG = {('local_embeds', 'conv'): 'local_embedding', ('local_embeds', 'bn'): 'bn1',
        ('global_embeds', 'conv'): 'global_embedding', ('global_embeds', 'bn'): 'bn2',
        ('global_acts', 'conv'): 'global_act', ('global_acts', 'bn'): 'bn3'}


def to_official(model):
    """A ``lavt_one`` RMSIN ``ckpt['model']`` from the tiny model: official names, conv biases
    (zero) in the gates, ARC routing names, the last stage's visual branch and gate."""
    own = model.state_dict()
    lavt_like = OrderedDict(
        (k, v) for k, v in own.items()
        if not k.startswith(('neck.', 'backbone.visual_')) and '.routing.' not in k)
    out = lavt_test.to_official(lavt_like)
    widths = SIZES
    for k, v in own.items():
        if k.startswith('backbone.visual_branches.'):
            _, _, i, rest = k.split('.', 3)
            out[f'backbone.layers.{i}.visual_residual.{rest}'] = v
        elif k.startswith('backbone.visual_gates.'):
            _, _, i, _, rest = k.split('.', 4)
            out[f'backbone.layers.{i}.visual_gate.{rest}'] = v
        elif '.routing.' in k:
            step = {'0': '2', '1': '3', '2': '4'}[k.split('.')[2]]
            rest = k.split('.routing.')[1].replace('norm.', 'norm.norm.')
            out[f'classifier.conv2_{step}.rounting_func.{rest}'] = v
        elif k.startswith('neck.'):
            name = k[len('neck.'):]
            head, rest = name.split('.', 1)
            if head in ('channel_down', 'channel_up', 'norm'):
                src = {'channel_down': 'down_channel', 'channel_up': 'up_channel',
                       'norm': 'bn'}[head]
                out[f'backbone.cim.{src}.{rest}'] = v
            elif head == 'blocks':
                b, part, rest = rest.split('.', 2)
                if part in ('csa1', 'csa2'):
                    mod, param = rest.split('.', 1)
                    out[f'backbone.cim.block.{b}.{part}.m.{_CSA[mod]}.{param}'] = v
                elif part == 'intra_ff':
                    _, j, param = rest.split('.', 2)
                    out[f'backbone.cim.block.{b}.intra_ff.m.ff{int(j) + 1}.m.{param}'] = v
                else:
                    out[f'backbone.cim.block.{b}.ff.m.{rest}'] = v
            else:
                i, layer, param = rest.split('.', 2)
                out[f'backbone.cim.fusion.{i}.{_SAG[(head, layer)]}.{param}'] = v
    for i, c in enumerate(widths):
        for conv in ('local_embedding', 'global_embedding', 'global_act'):
            out[f'backbone.cim.fusion.{i}.{conv}.bias'] = torch.zeros(c)
    c = widths[-1]
    for part in model.backbone.visual_branches['0'].state_dict():
        out[f'backbone.layers.3.visual_residual.{part}'] = \
            model.backbone.visual_branches['0'].state_dict()[part].clone()
    for j in (0, 2):
        out[f'backbone.layers.3.visual_gate.{j}.weight'] = torch.randn(c, c)
    return OrderedDict((k, v.clone()) for k, v in out.items())  # not the model's storage


def test_official_layout_converts_and_loads_strictly(tmp_path, bert_dir):
    model = _randomize(_build(bert_dir))
    official = to_official(model)
    assert official['classifier.conv2_4.weight'].dim() == 5  # ARC weights are 5-D
    src, dst = tmp_path / 'rmsin.pth', tmp_path / 'out.pth'
    import argparse
    torch.save(dict(model=official, args=argparse.Namespace(swin_type='tiny'), epoch=39,
                    optimizer={}, lr_scheduler={}), src)
    assert tool.main([str(src), str(dst), '--strict']) == 0
    state = torch.load(dst, map_location='cpu', weights_only=True)['state_dict']
    fresh = _build(bert_dir)
    fresh.load_state_dict(state, strict=True)
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value), key
    _, dropped, unmapped = tool.convert_rmsin(official)
    assert not unmapped
    assert any('layers.3.visual_residual' in k for k in dropped)


def test_other_widths_convert(tmp_path, bert_dir):
    model = _randomize(_build(bert_dir, embed=8))
    global SIZES
    sizes, SIZES = SIZES, [8, 16, 32, 64]
    try:
        official = to_official(model)
    finally:
        SIZES = sizes
    converted, _, unmapped = tool.convert_rmsin(official)
    assert not unmapped
    _build(bert_dir, embed=8).load_state_dict(converted, strict=True)


def test_gate_bias_is_folded_into_the_batch_norm(bert_dir):
    model = _randomize(_build(bert_dir))
    official = to_official(model)
    p = 'backbone.cim.fusion.1.'
    official[p + 'global_act.bias'] = torch.randn(32)
    converted, _, _ = tool.convert_rmsin(official)
    model.load_state_dict(converted, strict=True)
    x = torch.randn(2, 32, 3, 3)
    ref = F.conv2d(x, official[p + 'global_act.weight'], official[p + 'global_act.bias'])
    ref = F.batch_norm(ref, official[p + 'bn3.running_mean'], official[p + 'bn3.running_var'],
                       official[p + 'bn3.weight'], official[p + 'bn3.bias'], training=False)
    with torch.no_grad():
        torch.testing.assert_close(model.neck.global_acts[1](x), ref, atol=1e-5, rtol=1e-5)


def test_strict_refuses_unknown_keys(tmp_path, bert_dir):
    model = _randomize(_build(bert_dir))
    official = to_official(model)
    official['backbone.cim.block.0.csa1.m.mystery.weight'] = torch.zeros(1)
    src, dst = tmp_path / 'rmsin.pth', tmp_path / 'out.pth'
    torch.save(dict(model=official), src)
    assert tool.main([str(src), str(dst), '--strict']) == 1
    assert not dst.exists()
