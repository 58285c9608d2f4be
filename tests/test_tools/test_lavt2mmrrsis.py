# Copyright (c) mmrrsis contributors. All rights reserved.
"""tools/model_converters/lavt2mmrrsis.py on a fake official checkpoint of a tiny LAVT.

The official layout is written here independently of the converter: names by hand, the
PatchMerging channels by the offsets of LAVT's ``torch.cat([x0, x1, x2, x3])``, the relative
position index by the formula of the Swin reference code. Forward checks compare converted
modules with the official computations run on the official-layout tensors.
"""
import argparse
import importlib.util
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmrrsis.testing.tiny_models import make_tiny_bert, tiny_segmentor_cfg

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'model_converters' / 'lavt2mmrrsis.py'
WINDOW = 4

#: LAVT PatchMerging: x0, x1, x2, x3 are the (row, column) offsets of the 2x2 neighbours.
CONCAT_OFFSETS = [(0, 0), (1, 0), (0, 1), (1, 1)]

#: LAVTHead module -> SimpleDecoding module (lib/mask_predictor.py).
DECODER_NAMES = {
    'fuse_layers.2.0.conv': 'conv1_4', 'fuse_layers.2.0.bn': 'bn1_4',
    'fuse_layers.2.1.conv': 'conv2_4', 'fuse_layers.2.1.bn': 'bn2_4',
    'fuse_layers.1.0.conv': 'conv1_3', 'fuse_layers.1.0.bn': 'bn1_3',
    'fuse_layers.1.1.conv': 'conv2_3', 'fuse_layers.1.1.bn': 'bn2_3',
    'fuse_layers.0.0.conv': 'conv1_2', 'fuse_layers.0.0.bn': 'bn1_2',
    'fuse_layers.0.1.conv': 'conv2_2', 'fuse_layers.0.1.bn': 'bn2_2',
    'conv_seg': 'conv1_1',
}


def _load_tool():
    spec = importlib.util.spec_from_file_location('lavt2mmrrsis', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


@pytest.fixture(scope='module')
def bert_dir(tmp_path_factory):
    return make_tiny_bert(str(tmp_path_factory.mktemp('tiny_bert')), weights=False)


def _build(bert_dir):
    return MODELS.build(tiny_segmentor_cfg(bert_dir, backbone='lavt'))


@pytest.fixture(scope='module')
def model(bert_dir):
    """The tiny LAVT with every float tensor random (BN variances positive)."""
    model = _build(bert_dir)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g))
                if name.endswith('running_var'):
                    t.abs_().add_(0.5)
    return model.eval()


def _concat_from_unfold(t, dim):
    """4C channels in unfold order (c * 4 + 2 * row + col) -> LAVT's concat order."""
    channels = t.shape[dim] // 4
    parts = [t.index_select(dim, torch.arange(2 * dh + dw, 4 * channels, 4))
             for dh, dw in CONCAT_OFFSETS]
    return torch.cat(parts, dim)


def _official_relative_position_index(window):
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window),
                                        indexing='ij')).flatten(1)  # (2, N)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + window - 1
    return rel[..., 0] * (2 * window - 1) + rel[..., 1]


def _official_backbone_key(key):
    key = key.replace('patch_embed.projection.', 'patch_embed.proj.')
    key = key.replace('attn.w_msa.', 'attn.')
    key = key.replace('ffn.layers.0.0.', 'mlp.fc1.').replace('ffn.layers.1.', 'mlp.fc2.')
    key = key.replace('stages.', 'layers.')
    parts = key.split('.')
    if parts[0] == 'pwams':  # pwams.i.* -> layers.i.fusion.*
        return '.'.join(['layers', parts[1], 'fusion'] + parts[2:])
    if parts[0] == 'gates':  # gates.i.gate.* -> layers.i.res_gate.*
        return '.'.join(['layers', parts[1], 'res_gate'] + parts[3:])
    return key


def to_official(state_dict, num_stages=4):
    """A ``lavt_one`` ``ckpt['model']`` holding the weights of an mmrrsis state dict."""
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('text_encoder.model.'):
            out['text_encoder.' + key[len('text_encoder.model.'):]] = value
        elif key.startswith('decode_head.'):
            module, param = key[len('decode_head.'):].rsplit('.', 1)
            out[f'classifier.{DECODER_NAMES[module]}.{param}'] = value
        elif key.startswith('backbone.'):
            new_key = 'backbone.' + _official_backbone_key(key[len('backbone.'):])
            if '.downsample.reduction.' in key:
                value = _concat_from_unfold(value, 1)
            elif '.downsample.norm.' in key:
                value = _concat_from_unfold(value, 0)
            elif key.endswith('relative_position_index'):
                value = _official_relative_position_index(WINDOW)
            out[new_key] = value
        else:
            raise KeyError(key)
    # LAVT also builds a language gate after the last stage; mmrrsis does not.
    channels = state_dict['backbone.norm3.weight'].shape[0]
    for idx in (0, 2):
        out[f'backbone.layers.{num_stages - 1}.res_gate.{idx}.weight'] = torch.randn(
            channels, channels)
    return out


def _split_bert(official):
    model = OrderedDict((k, v) for k, v in official.items() if not k.startswith('text_encoder.'))
    bert = OrderedDict((k[len('text_encoder.'):], v) for k, v in official.items()
                       if k.startswith('text_encoder.'))
    return model, bert


def _converted(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


def _assert_same_state(converted, expected):
    assert set(converted) == set(expected)
    for key, value in expected.items():
        assert torch.equal(converted[key], value), key


def _build_loaded(model, state_dict):
    fresh = _build(model.text_encoder.model_path)
    fresh.load_state_dict(state_dict, strict=True)
    return fresh.eval()


def test_cli_lavt_one_loads_strictly(tmp_path, model, bert_dir):
    official = to_official(model.state_dict())
    ckpt = dict(model=official, optimizer={}, epoch=39, lr_scheduler={},
                args=argparse.Namespace(swin_type='tiny', window12=False))
    torch.save(ckpt, tmp_path / 'lavt_one.pth')
    proc = subprocess.run(
        [sys.executable, str(TOOL), str(tmp_path / 'lavt_one.pth'), str(tmp_path / 'out.pth'),
         '--strict'], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert 'unmapped' not in proc.stderr
    assert 'dropped backbone.layers.3.res_gate.0.weight' in proc.stdout

    state_dict = _converted(tmp_path / 'out.pth')
    fresh = _build(bert_dir)
    fresh_index = fresh.backbone.stages[0].blocks[0].attn.w_msa.relative_position_index.clone()
    fresh.load_state_dict(state_dict, strict=True)
    _assert_same_state(fresh.state_dict(), model.state_dict())
    # the reference's relative position index is MMSeg's
    assert torch.equal(fresh_index, _official_relative_position_index(WINDOW))


def test_patch_merging_matches_official_order(model):
    official = to_official(model.state_dict())
    state_dict, _, unmapped = tool.convert_lavt(official)
    assert not unmapped
    converted = _build_loaded(model, state_dict)
    for i in range(3):
        prefix = f'backbone.layers.{i}.downsample.'
        norm_w, norm_b = official[prefix + 'norm.weight'], official[prefix + 'norm.bias']
        reduction = official[prefix + 'reduction.weight']
        channels, (H, W) = norm_w.shape[0] // 4, (4, 6)
        x = torch.randn(2, H * W, channels, generator=torch.Generator().manual_seed(i))
        # LAVT: cat of the 2x2 neighbours in x0..x3 order, LayerNorm, linear reduction
        grid = x.view(2, H, W, channels)
        merged = torch.cat([grid[:, dh::2, dw::2] for dh, dw in CONCAT_OFFSETS], -1)
        merged = F.layer_norm(merged.view(2, -1, 4 * channels), (4 * channels,), norm_w, norm_b)
        expected = merged @ reduction.t()
        with torch.no_grad():
            out, out_hw = converted.backbone.stages[i].downsample(x, (H, W))
        assert tuple(out_hw) == (H // 2, W // 2)
        torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)


def test_decoder_matches_simple_decoding(model):
    official = to_official(model.state_dict())
    state_dict, _, _ = tool.convert_lavt(official)
    converted = _build_loaded(model, state_dict)
    w = {k[len('classifier.'):]: v for k, v in official.items() if k.startswith('classifier.')}

    def rho(x, level):
        for n in (1, 2):
            x = F.conv2d(x, w[f'conv{n}_{level}.weight'], padding=1)
            x = F.batch_norm(x, w[f'bn{n}_{level}.running_mean'], w[f'bn{n}_{level}.running_var'],
                             w[f'bn{n}_{level}.weight'], w[f'bn{n}_{level}.bias'], eps=1e-5)
            x = F.relu(x)
        return x

    g = torch.Generator().manual_seed(1)
    feats = [torch.randn(2, c, s, s, generator=g)
             for c, s in zip([16, 32, 64, 128], [16, 8, 4, 2])]  # c1 .. c4
    x = feats[3]
    for level, skip in zip((4, 3, 2), feats[2::-1]):
        x = F.interpolate(x, size=skip.shape[2:], mode='bilinear', align_corners=True)
        x = rho(torch.cat([x, skip], 1), level)
    expected = F.conv2d(x, w['conv1_1.weight'], w['conv1_1.bias'])
    with torch.no_grad():
        out = converted.decode_head(feats)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)


def test_lavt_separate_bert_and_bert_src(tmp_path, model):
    official, bert = _split_bert(to_official(model.state_dict()))
    bert_with_pooler = OrderedDict(bert, **{'pooler.dense.weight': torch.randn(32, 32),
                                            'embeddings.position_ids': torch.arange(64)[None]})
    torch.save(dict(model=official, bert_model=bert_with_pooler), tmp_path / 'lavt.pth')
    assert tool.main([str(tmp_path / 'lavt.pth'), str(tmp_path / 'a.pth'), '--strict']) == 0
    _assert_same_state(_converted(tmp_path / 'a.pth'), model.state_dict())

    # BERT weights from another file override those of SRC
    torch.save(dict(model=official), tmp_path / 'no_bert.pth')
    torch.save(bert, tmp_path / 'bert.pth')
    assert tool.main([str(tmp_path / 'no_bert.pth'), str(tmp_path / 'b.pth'),
                      '--bert-src', str(tmp_path / 'bert.pth')]) == 0
    _assert_same_state(_converted(tmp_path / 'b.pth'), model.state_dict())

    state_dict, dropped, unmapped = tool.convert_lavt(official, bert_with_pooler)
    assert not unmapped
    assert set(dropped) == {'bert_model.pooler.dense.weight', 'bert_model.embeddings.position_ids',
                            'backbone.layers.3.res_gate.0.weight',
                            'backbone.layers.3.res_gate.2.weight'}


def test_unmapped_keys_are_reported(tmp_path, model, capsys):
    official = to_official(model.state_dict())
    official['backbone.layers.0.extra_module.weight'] = torch.zeros(1)
    official['module_from_a_fork.weight'] = torch.zeros(1)
    _, _, unmapped = tool.convert_lavt(official)
    assert unmapped == ['backbone.layers.0.extra_module.weight', 'module_from_a_fork.weight']

    torch.save(dict(model=official), tmp_path / 'src.pth')
    assert tool.main([str(tmp_path / 'src.pth'), str(tmp_path / 'strict.pth'), '--strict']) == 1
    assert not (tmp_path / 'strict.pth').exists()
    assert tool.main([str(tmp_path / 'src.pth'), str(tmp_path / 'lenient.pth')]) == 0
    err = capsys.readouterr().err
    assert 'unmapped module_from_a_fork.weight' in err
    assert set(_converted(tmp_path / 'lenient.pth')) == set(model.state_dict())


def test_wrong_files_fail_without_writing(tmp_path, capsys):
    """Another model's checkpoint, an image and a text file: exit 1, nothing written, a reason
    that names the file, and no advice to use the unsafe loader for what is not a checkpoint."""
    import torchvision
    resnet = tmp_path / 'resnet18.pth'
    torch.save(torchvision.models.resnet18().state_dict(), resnet)
    jpeg = tmp_path / 'photo.jpg'
    jpeg.write_bytes(b'\xff\xd8\xff\xe0' + bytes(200))
    text = tmp_path / 'notes.txt'
    text.write_text('model: lavt\nepochs: 40\n')
    for src, words in ((resnet, ['no tensor', 'resnet18.pth', 'nothing written']),
                       (jpeg, ['photo.jpg', 'not a PyTorch checkpoint', 'JPEG']),
                       (text, ['notes.txt', 'not a PyTorch checkpoint', 'text'])):
        dst = tmp_path / f'{src.stem}_out.pth'
        assert tool.main([str(src), str(dst)]) == 1, src
        err = capsys.readouterr().err
        assert not dst.exists()
        for w in words:
            assert w in err, (src, err)
        assert '--trust-source' not in err
        # the RMSIN / FIANet converters share the checks
        assert tool.converter_main([str(src), str(dst)], 'x', 'x',
                                   lambda state: ({}, {}, list(state))) == 1
        assert not dst.exists()
        capsys.readouterr()


def test_mostly_unmapped_checkpoint_is_refused(tmp_path, model, capsys):
    official, _ = _split_bert(to_official(model.state_dict()))
    kept = dict(list(official.items())[:3])
    kept.update({f'other_model.layer{i}.weight': torch.zeros(2) for i in range(10)})
    torch.save({'model': kept}, tmp_path / 'src.pth')
    assert tool.main([str(tmp_path / 'src.pth'), str(tmp_path / 'dst.pth')]) == 1
    assert 'probably another model' in capsys.readouterr().err
    assert not (tmp_path / 'dst.pth').exists()
