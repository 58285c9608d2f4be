# Copyright (c) mmrrsis contributors. All rights reserved.
"""End-to-end runs of tools/train.py, tools/test.py and tools/dist_train.sh on the CPU.

The demo config is shrunk through ``--cfg-options`` only (tiny synthetic set, tiny offline
BERT, 64 px, one Swin block per stage, 2-4 iterations), so these runs exercise exactly what a
user types.
"""
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from mmrrsis.datasets.synthetic import generate_synthetic_dataset
from mmrrsis.testing.tiny_models import make_tiny_bert, tiny_training_options

REPO = Path(__file__).resolve().parents[2]
CONFIG = 'configs/lavt/lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py'
CONFIG_NAME = Path(CONFIG).stem
IMG_SIZE = 64


@pytest.fixture(scope='module')
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp('tools')
    data_root = root / 'synth'
    generate_synthetic_dataset(str(data_root), num_images=12, image_size=IMG_SIZE, seed=0,
                               progress=False)
    bert = make_tiny_bert(str(root / 'bert'))
    num_val = len((data_root / 'output_phrase_val.txt').read_text().splitlines())
    num_test = len((data_root / 'output_phrase_test.txt').read_text().splitlines())
    return SimpleNamespace(root=root, data_root=str(data_root), bert=bert, num_val=num_val,
                           num_test=num_test)


def tiny_cfg_options(assets, max_iters=4, val_interval=2, ckpt_interval=2):
    """``--cfg-options`` that shrink the demo config to a few seconds on the CPU."""
    opts = tiny_training_options(assets.data_root, assets.bert, IMG_SIZE, max_iters,
                                 val_interval, ckpt_interval)
    return [f'{k}={v}' for k, v in opts.items()]


def tool_env():
    env = dict(os.environ, HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1',
               PYTHON=sys.executable,
               # One OpenMP thread: on a shared CPU, spinning worker threads slow these tiny
               # models down by up to 60x (measured with a training run beside them).
               OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    # The tools must set it themselves (torch >= 2.6 weights_only); tests/conftest.py sets it
    # for this process, so do not let the child inherit it.
    env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
    return env


def run_tool(args, env=None, timeout=300):
    proc = subprocess.run(args, cwd=str(REPO), env=env or tool_env(), capture_output=True,
                          text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{args[:3]} failed ({proc.returncode}):\n{output[-6000:]}'
    return output


def train(work_dir, options, *extra):
    return run_tool([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work_dir),
                     *extra, '--cfg-options', *options])


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def load_ckpt(path):
    return torch.load(str(path), map_location='cpu', weights_only=False)


@pytest.fixture(scope='module')
def trained(assets):
    """One train.py run: 4 iterations, validation and checkpoints every 2."""
    work_dir = assets.root / 'train'
    output = train(work_dir, tiny_cfg_options(assets))
    return SimpleNamespace(work_dir=work_dir, output=output)


@pytest.mark.slow
def test_train_tool(trained, assets):
    work_dir = trained.work_dir
    assert (work_dir / 'iter_4.pth').is_file()
    assert (work_dir / f'{CONFIG_NAME}.py').is_file()  # the merged config is dumped
    assert (work_dir / 'last_checkpoint').read_text().strip().endswith('iter_4.pth')
    best = sorted(work_dir.glob('best_oIoU_iter_*.pth'))
    assert len(best) == 1, 'save_best keeps only the latest best checkpoint'
    # validation ran twice on the whole val split and reported the paper metrics
    val_lines = re.findall(r'Iter\(val\) \[\d+/\d+\]\s+oIoU: [\d.]+\s+mIoU: [\d.]+.*',
                           trained.output)
    assert len(val_lines) == 2
    assert all(f'num_samples: {assets.num_val}' in line for line in val_lines)
    assert 'Iter(train) [4/4]' in trained.output
    assert load_ckpt(work_dir / 'iter_4.pth')['meta']['iter'] == 4


@pytest.mark.slow
def test_test_tool(trained, assets):
    work_dir = assets.root / 'test'
    show_dir = assets.root / 'show'
    output = run_tool([
        sys.executable, 'tools/test.py', CONFIG, str(trained.work_dir / 'iter_4.pth'),
        '--work-dir', str(work_dir), '--show-dir', str(show_dir), '--cfg-options',
        *tiny_cfg_options(assets), 'default_hooks.visualization.interval=1'
    ])
    # the Runner checkpoint loaded although torch >= 2.6 defaults to weights_only=True
    assert 'Load checkpoint from' in output
    match = re.search(r'Iter\(test\) \[\d+/\d+\]\s+oIoU: ([\d.]+)\s+mIoU: ([\d.]+)', output)
    assert match, output[-3000:]
    assert 0.0 <= float(match.group(1)) <= 100.0 and 0.0 <= float(match.group(2)) <= 100.0
    assert f'num_samples: {assets.num_test}' in output
    assert list(work_dir.glob('*/*.json')), 'the metrics json is dumped to the work dir'
    # --show-dir: one picture per test sample (RefSegRS has one image per sentence)
    pictures = list((show_dir / 'vis_data' / 'vis_image').glob('test_*.png'))
    assert len(pictures) == assets.num_test


@pytest.mark.slow
def test_test_tool_out_saves_masks_and_results(trained, assets):
    import json

    import numpy as np
    from PIL import Image
    out = assets.root / 'preds'
    output = run_tool([
        sys.executable, 'tools/test.py', CONFIG, str(trained.work_dir / 'iter_4.pth'),
        '--work-dir', str(assets.root / 'test_out'), '--out', str(out), '--cfg-options',
        *tiny_cfg_options(assets)
    ])
    assert f'num_samples: {assets.num_test}' in output
    records = [json.loads(line) for line in (out / 'results.jsonl').read_text().splitlines()]
    masks = sorted((out / 'masks').glob('*.png'))
    assert len(records) == len(masks) == assets.num_test
    ids = [line.split(' ')[0] for line in
           Path(assets.data_root, 'output_phrase_test.txt').read_text().splitlines()]
    assert sorted(r['ref_id'] for r in records) == sorted(ids)
    for rec in records[:5]:
        mask = np.asarray(Image.open(rec['mask_file']))
        assert mask.shape == (IMG_SIZE, IMG_SIZE) and set(np.unique(mask)) <= {0, 255}
        # the saved mask is the evaluated prediction: I <= |mask|, U >= |mask|
        assert rec['I'] <= (mask > 0).sum() <= rec['U']


@pytest.mark.slow
def test_tools_refuse_a_checkpoint_that_runs_code(trained, assets):
    import builtins

    class Payload:

        def __reduce__(self):
            return builtins.open, (str(assets.root / 'pwned'), 'w')

    ckpt = load_ckpt(trained.work_dir / 'iter_4.pth')
    ckpt['meta']['payload'] = Payload()
    evil = assets.root / 'evil.pth'
    torch.save(ckpt, str(evil))
    proc = subprocess.run([
        sys.executable, 'tools/test.py', CONFIG, str(evil), '--work-dir',
        str(assets.root / 'test_evil'), '--cfg-options', *tiny_cfg_options(assets)
    ], cwd=str(REPO), env=tool_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert 'refused to load the checkpoint' in proc.stderr and 'open' in proc.stderr
    assert '--trust-checkpoint' in proc.stderr
    proc = subprocess.run([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(assets.root / 'train_evil'),
        '--cfg-options', *tiny_cfg_options(assets, max_iters=1), f'load_from={evil}'
    ], cwd=str(REPO), env=tool_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and 'refused to load the checkpoint' in proc.stderr
    assert not (assets.root / 'pwned').exists(), 'the payload ran'


@pytest.mark.slow
def test_save_resume_round_trip(assets):
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint
    from mmseg.registry import MODELS

    work_dir = assets.root / 'resume'
    train(work_dir, tiny_cfg_options(assets, max_iters=2))
    ckpt_2 = load_ckpt(work_dir / 'iter_2.pth')
    assert ckpt_2['meta']['iter'] == 2

    output = train(work_dir, tiny_cfg_options(assets, max_iters=4), '--resume')
    assert 'resumed epoch: 0, iter: 2' in output
    assert 'Iter(train) [3/4]' in output and 'Iter(train) [1/4]' not in output
    ckpt_4 = load_ckpt(work_dir / 'iter_4.pth')
    assert ckpt_4['meta']['iter'] == 4
    assert ckpt_4['message_hub']['runtime_info']['max_iters'] == 4
    # the resumed run went on training: the weights moved away from the iteration-2 ones
    assert any(not torch.equal(v, ckpt_2['state_dict'][k])
               for k, v in ckpt_4['state_dict'].items() if v.is_floating_point())

    # a fresh model built from the dumped config gets exactly the saved parameters
    cfg = Config.fromfile(str(work_dir / f'{CONFIG_NAME}.py'))
    model = MODELS.build(cfg.model)
    saved = ckpt_4['state_dict']
    assert any(not torch.equal(v, saved[k]) for k, v in model.state_dict().items()
               if v.is_floating_point()), 'a fresh model should differ before loading'
    load_checkpoint(model, str(work_dir / 'iter_4.pth'), map_location='cpu', strict=True)
    state = model.state_dict()
    assert state.keys() == saved.keys()
    for key, value in saved.items():
        assert torch.equal(state[key], value), key


@pytest.mark.slow
def test_dist_train_gloo(assets):
    work_dir = assets.root / 'dist'
    env = tool_env()
    env['PORT'] = str(free_port())
    output = run_tool([
        'bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', str(work_dir),
        '--cfg-options', 'env_cfg.dist_cfg.backend=gloo',
        *tiny_cfg_options(assets, max_iters=2, val_interval=2, ckpt_interval=2)
    ], env=env)
    assert 'Distributed training: True' in output
    assert 'GPU number: 2' in output  # MMEngine's name for the world size
    assert 'Iter(train) [2/2]' in output
    # each rank evaluates half of the val split; the metric gathers all of it
    assert f'num_samples: {assets.num_val}' in output
    assert load_ckpt(work_dir / 'iter_2.pth')['meta']['iter'] == 2


@pytest.mark.slow
def test_dist_test_cpu(trained, assets):
    env = tool_env()
    env['PORT'] = str(free_port())
    # no backend option: on a machine without CUDA the tools fall back from nccl to gloo
    output = run_tool([
        'bash', 'tools/dist_test.sh', CONFIG, str(trained.work_dir / 'iter_4.pth'), '2',
        '--work-dir', str(assets.root / 'dist_test'), '--cfg-options', *tiny_cfg_options(assets)
    ], env=env)
    assert 'GPU number: 2' in output
    assert f'num_samples: {assets.num_test}' in output


@pytest.mark.slow
def test_train_tool_btdnet(assets):
    """The small BTDNet config (BSC backbone, T-BTD head, D-MOLS) trains through train.py."""
    config = 'configs/btdnet/btdnet_swin-tiny_minilm_1xb16-2k_synth-128x128.py'
    work_dir = assets.root / 'btdnet'
    output = run_tool([
        sys.executable, 'tools/train.py', config, '--work-dir', str(work_dir),
        '--cfg-options', *tiny_cfg_options(assets, max_iters=2, val_interval=2,
                                           ckpt_interval=2), 'model.decode_head.text_dim=32'
    ])
    assert 'Iter(train) [2/2]' in output
    train_lines = [line for line in output.splitlines() if 'Iter(train) [' in line]
    # T-BTD's auxiliary target/background losses and D-MOLS' reconstruction loss are logged
    for key in ('decode.loss_ce', 'decode.loss_dice', 'decode.loss_fg', 'decode.loss_bg',
                'loss_rec'):
        assert all(key + ':' in line for line in train_lines), key
    assert f'num_samples: {assets.num_val}' in output
    state = load_ckpt(work_dir / 'iter_2.pth')['state_dict']
    assert any(k.startswith('loss_dmols.') for k in state)  # trained, saved
    assert any(k.startswith('backbone.bscs.') for k in state)


def test_train_tool_rmsin(assets):
    """The synthetic RMSIN config (visual branch, CIM neck, ARC decoder) trains through
    train.py and is tested on the val split."""
    config = 'configs/rmsin/rmsin_swin-tiny_minilm_1xb16-2k_synth-128x128.py'
    work_dir = assets.root / 'rmsin'
    output = run_tool([
        sys.executable, 'tools/train.py', config, '--work-dir', str(work_dir),
        '--cfg-options', *tiny_cfg_options(assets, max_iters=2, val_interval=2,
                                           ckpt_interval=2), 'model.neck.grid=(2,2)'
    ])
    assert 'Iter(train) [2/2]' in output and f'num_samples: {assets.num_val}' in output
    state = load_ckpt(work_dir / 'iter_2.pth')['state_dict']
    assert any(k.startswith('neck.blocks.0.csa1.') for k in state)
    assert state['decode_head.fuse_layers.0.1.conv.weight'].dim() == 5  # ARC
    assert any(k.startswith('backbone.visual_branches.') for k in state)


def test_train_tool_demo_config(assets):
    """The demo config (ResNet-18, coordinate-aware fusion neck, T-BTD head, frozen cached
    text encoder, fused AdamW, ChannelsLastHook) trains and validates through train.py."""
    config = 'configs/lavt/fusionneck-tbtd_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py'
    work_dir = assets.root / 'demo_cfg'
    opts = [o for o in tiny_cfg_options(assets, max_iters=3, val_interval=3, ckpt_interval=3)
            if not o.startswith('model.backbone.')]
    output = run_tool([
        sys.executable, 'tools/train.py', config, '--work-dir', str(work_dir),
        '--cfg-options', *opts, 'model.neck.text_dim=32', 'model.decode_head.text_dim=32'
    ])
    assert 'Iter(train) [3/3]' in output
    train_lines = [line for line in output.splitlines() if 'Iter(train) [' in line]
    for key in ('decode.loss_ce', 'decode.loss_dice', 'decode.loss_fg', 'decode.loss_bg'):
        assert all(key + ':' in line for line in train_lines), key
    assert f'num_samples: {assets.num_val}' in output
    state = load_ckpt(work_dir / 'iter_3.pth')['state_dict']
    # coordinates enter every PWAM (C + 2 input channels) and the head's map
    assert state['neck.pwams.0.vis_project.0.weight'].shape[1] == 32 + 2
    assert 'decode_head.coord_proj.weight' in state
    # the frozen text encoder's weights are saved unchanged by training
    from safetensors.torch import load_file
    bert = load_file(str(Path(assets.bert) / 'model.safetensors'))
    key = 'embeddings.word_embeddings.weight'
    torch.testing.assert_close(state['text_encoder.model.' + key], bert[key])


@pytest.mark.slow
def test_test_tool_refuses_another_models_checkpoint(trained, assets):
    """A ResNet-18 state dict was evaluated (oIoU 2.34, exit 0, only a warning); now it is
    refused with the counts, and --allow-mismatch is the explicit opt-out."""
    import torchvision
    other = assets.root / 'resnet18.pth'
    torch.save(torchvision.models.resnet18().state_dict(), str(other))
    args = [sys.executable, 'tools/test.py', CONFIG, str(other), '--work-dir',
            str(assets.root / 'test_other'), '--cfg-options', *tiny_cfg_options(assets)]
    proc = subprocess.run(args, cwd=str(REPO), env=tool_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert 'does not fit the model of the config' in proc.stderr
    assert 'resnet18.pth' in proc.stderr and '--allow-mismatch' in proc.stderr
    output = run_tool(args[:4] + ['--allow-mismatch'] + args[4:])
    assert re.search(r'Iter\(test\) \[\d+/\d+\]\s+oIoU', output)
