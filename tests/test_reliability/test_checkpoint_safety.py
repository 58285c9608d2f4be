# Copyright (c) mmrrsis contributors. All rights reserved.
"""Fault suite, checkpoints: a checkpoint whose unpickling would run code is refused on every
load path (the payload only creates a marker file, which must stay absent), while our own,
official-layout and converted checkpoints load without the opt-in."""
import argparse
import os
import builtins
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import load_checkpoint

from mmrrsis.apis import RRSISInferencer
from mmrrsis.testing import make_tiny_bert, tiny_segmentor_cfg
from mmrrsis.utils.checkpoint import TRUST_ENV, load_checkpoint_file, trusted


class Payload:
    """Unpickling calls ``open(marker, 'w')``: the marker file appears if code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return builtins.open, (self.marker, 'w')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('ckpt')
    text_dir = make_tiny_bert(str(root / 'bert'))
    cfg = Config(dict(
        default_scope='mmseg', model=tiny_segmentor_cfg(text_dir),
        test_dataloader=dict(dataset=dict(type='RefSegRSDataset', pipeline=[
            dict(type='LoadRRSISImageFromFile'),
            dict(type='Resize', scale=(64, 64), keep_ratio=False, backend='pillow'),
            dict(type='PackRRSISInputs')]))))
    model = RRSISInferencer(cfg).model
    return root, cfg, model


@pytest.fixture(autouse=True)
def _no_trust_env(monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)


def _malicious(root, model, name='evil.pth'):
    marker = str(root / f'{name}.marker')
    path = str(root / name)
    torch.save(dict(meta=dict(iter=1), state_dict=model.state_dict(), extra=Payload(marker)),
               path)
    return path, marker


def test_runner_checkpoint_contents_load_safely(setup, tmp_path):
    """What an MMEngine Runner checkpoint holds (message hub buffers, numpy values, an
    official checkpoint's argparse.Namespace) loads without the opt-in."""
    _, _, model = setup
    buf = HistoryBuffer()
    buf.update(np.float64(0.5))
    ckpt = dict(meta=dict(epoch=1, iter=2, seed=np.int64(3), best_score=np.float64(71.2),
                          dataset_meta=dict(classes=('background', 'target')),
                          message_hub=dict(log_scalars={'train/loss': buf},
                                           runtime_info=dict(arr=np.arange(3)))),
                state_dict=model.state_dict(),
                args=argparse.Namespace(lr=5e-5, swin_type='base'))
    path = str(tmp_path / 'runner.pth')
    torch.save(ckpt, path)
    loaded = load_checkpoint_file(path)
    assert loaded['args'].lr == 5e-5 and loaded['meta']['best_score'] == 71.2
    assert isinstance(loaded['meta']['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    load_checkpoint(model, path, map_location='cpu')  # MMEngine's path (resume, load_from)


def test_malicious_checkpoint_is_refused_everywhere(setup):
    root, cfg, model = setup
    path, marker = _malicious(root, model)
    with pytest.raises(RuntimeError, match='refused to load') as err:
        load_checkpoint_file(path)
    assert 'open' in str(err.value) and '--trust-checkpoint' in str(err.value)
    with pytest.raises(Exception) as err:  # MMEngine: load_from, resume, tools/test.py
        load_checkpoint(model, path, map_location='cpu')
    assert 'open' in str(err.value)
    with pytest.raises(RuntimeError, match='trust_checkpoint=True'):
        RRSISInferencer(cfg, path)
    assert not osp.exists(marker), 'the payload ran'


def test_the_opt_in_runs_the_full_unpickler(setup):
    """Proves the payload works: with the explicit opt-in it does run."""
    root, cfg, model = setup
    path, marker = _malicious(root, model, 'trusted.pth')
    RRSISInferencer(cfg, path, trust_checkpoint=True)
    assert osp.exists(marker)
    path2, marker2 = _malicious(root, model, 'trusted2.pth')
    with trusted():
        load_checkpoint_file(path2)
    assert osp.exists(marker2)
    path3, marker3 = _malicious(root, model, 'untrusted3.pth')
    with pytest.raises(RuntimeError):  # the context manager restored the safe default
        load_checkpoint_file(path3)
    assert not osp.exists(marker3)


class _GetattrPayload:
    """A pickle that looks up an arbitrary attribute through ``getattr``."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    path = str(tmp_path / 'getattr.pth')
    torch.save(dict(x=_GetattrPayload()), path)
    with pytest.raises(RuntimeError, match="refused getattr.*'__init__'"):
        load_checkpoint_file(path)


def test_a_fresh_process_loads_history_buffers(tmp_path):
    """HistoryBuffer registers its statistics on the first instance: a process that loads a
    checkpoint before making one must still admit them."""
    import subprocess
    import sys
    buf = HistoryBuffer()
    buf.update(1.0)
    path = str(tmp_path / 'hub.pth')
    torch.save(dict(message_hub=dict(log_scalars={'loss': buf})), path)
    code = ('import mmrrsis; from mmrrsis.utils.checkpoint import load_checkpoint_file; '
            f"print(load_checkpoint_file({path!r})['message_hub']['log_scalars']['loss'].mean())")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120, env={k: v for k, v in os.environ.items()
                                           if k != TRUST_ENV})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith('1.0')
