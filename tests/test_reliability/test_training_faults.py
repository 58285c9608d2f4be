# Copyright (c) mmrrsis contributors. All rights reserved.
"""Fault suite, training: what a long run meets (a kill or a full disk while a checkpoint is
written, a NaN loss, an image that becomes unreadable, a wrong ``--resume``) on a tiny model
trained by the stock MMEngine runner, with the outcome each case must have."""
import errno
import os.path as osp
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.fileio.backends import LocalBackend
from mmengine.runner import Runner

from mmrrsis.datasets.synthetic import generate_synthetic_dataset
from mmrrsis.testing import make_tiny_bert, tiny_training_options
from mmrrsis.utils.training import check_resume, stopped_message

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs/lavt/lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py'
SIZE = 64


@pytest.fixture(scope='module')
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp('train_faults')
    data_root = root / 'synth'
    generate_synthetic_dataset(str(data_root), num_images=8, image_size=SIZE, seed=0,
                               progress=False)
    return root, str(data_root), make_tiny_bert(str(root / 'bert'))


def tiny_cfg(assets, work_dir, max_iters=6, interval=2, **options) -> Config:
    """The LAVT demo config shrunk to a few seconds (as tools/train.py --cfg-options would)."""
    _, data_root, bert = assets
    cfg = Config.fromfile(str(CONFIG))
    cfg.merge_from_dict({
        **tiny_training_options(data_root, bert, SIZE, max_iters, interval, interval),
        'work_dir': str(work_dir),
        **options,
    })
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=False)
    return cfg


def run(cfg: Config, resume: bool = False):
    cfg = cfg.copy()
    cfg.resume = resume
    if resume:
        check_resume(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def loads(path) -> dict:
    return torch.load(str(path), map_location='cpu', weights_only=False)


class _FailingPut:
    """Replace ``LocalBackend.put``: the ``n``-th write whose name matches writes half its
    bytes, then fails (``OSError(ENOSPC)``, or ``KeyboardInterrupt`` as a kill)."""

    def __init__(self, monkeypatch, match: str, n: int = 1, kill: bool = False):
        self.match, self.n, self.kill, self.seen = match, n, kill, 0
        self.orig = LocalBackend.put
        monkeypatch.setattr(LocalBackend, 'put',
                            lambda backend, obj, filepath: self(backend, obj, filepath))

    def __call__(self, backend, obj, filepath):
        if self.match in osp.basename(str(filepath)):
            self.seen += 1
            if self.seen == self.n:
                with open(filepath, 'wb') as f:
                    f.write(obj[:len(obj) // 2])
                if self.kill:
                    raise KeyboardInterrupt('killed during the write')
                raise OSError(errno.ENOSPC, 'No space left on device')
        return self.orig(backend, obj, filepath)


def test_kill_during_a_checkpoint_write_keeps_the_last_one_resumable(assets, tmp_path,
                                                                     monkeypatch, one_thread):
    """``max_keep_ckpts=1``: MMEngine deleted iter_2 before writing iter_4; killed during that
    write, nothing intact was left and ``--resume`` failed. Now iter_2 stays until iter_4 is in
    place, the broken write is a .tmp file, and the run resumes from iter_2."""
    cfg = tiny_cfg(assets, tmp_path)
    _FailingPut(monkeypatch, 'iter_4', kill=True)
    with pytest.raises(KeyboardInterrupt):
        run(cfg)
    monkeypatch.undo()
    assert loads(tmp_path / 'iter_2.pth')['meta']['iter'] == 2  # intact
    assert not (tmp_path / 'iter_4.pth').exists()
    assert (tmp_path / 'last_checkpoint').read_text().strip().endswith('iter_2.pth')
    runner = run(cfg, resume=True)
    assert runner.iter == 6
    assert sorted(p.name for p in tmp_path.glob('iter_*.pth')) == ['iter_6.pth']
    assert not list(tmp_path.glob('*.tmp')), 'the interrupted write was cleaned up'


def test_full_disk_while_saving_the_best_keeps_older_checkpoints(assets, tmp_path,
                                                                  monkeypatch, one_thread):
    cfg = tiny_cfg(assets, tmp_path, max_iters=4)
    put = _FailingPut(monkeypatch, 'best_oIoU')
    with pytest.raises(OSError) as err:
        run(cfg)
    msg = str(err.value)
    assert 'best_oIoU_iter_2.pth' in msg and 'No space left' in msg and '--resume' in msg
    assert 'iter_2.pth' in msg.split('intact:')[1]  # the older checkpoints are listed
    assert put.seen == 1
    names = sorted(p.name for p in tmp_path.glob('*.pth'))
    assert names == ['iter_2.pth']  # no truncated file under the best name
    assert not list(tmp_path.glob('*.tmp'))
    assert loads(tmp_path / 'iter_2.pth')['meta']['iter'] == 2


def test_nan_loss_stops_with_the_iteration_and_no_nan_checkpoint(assets, tmp_path, one_thread):
    cfg = tiny_cfg(assets, tmp_path, max_iters=8, **{'optim_wrapper.optimizer.lr': 1e6})
    with pytest.raises(FloatingPointError, match=r'(Non-finite training loss .* at iteration|'
                       r'non-finite values at iteration) \d+'):
        run(cfg)
    for path in tmp_path.glob('*.pth'):  # whatever was saved before the fault is finite
        state = loads(path)['state_dict']
        assert all(torch.isfinite(v).all() for v in state.values()
                   if v.is_floating_point()), path.name


def test_nan_loss_skip_mode_skips_the_step(one_thread):
    """``action='skip'``: the weights do not move on a NaN loss, finite steps go on."""
    from types import SimpleNamespace

    from mmengine.optim import OptimWrapper

    from mmrrsis.engine.hooks import NonFiniteLossHook
    model = torch.nn.Linear(3, 1)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    runner = SimpleNamespace(optim_wrapper=wrapper, iter=6, epoch=0)
    hook = NonFiniteLossHook(action='skip', max_skips=1)
    hook.before_train(runner)
    before = model.weight.detach().clone()
    wrapper.update_params(model(torch.ones(2, 3)).sum() * float('nan'))
    assert torch.equal(model.weight, before) and hook.num_skipped == 1
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    wrapper.update_params(model(torch.ones(2, 3)).sum())
    assert not torch.equal(model.weight, before)
    with pytest.raises(FloatingPointError, match='iteration 7.*after 1 skipped'):
        wrapper.update_params(model(torch.ones(2, 3)).sum() * float('inf'))


def test_unreadable_image_mid_run(assets, tmp_path, one_thread):
    """An image that becomes unreadable: the run stops naming the file; with
    ``on_error='skip'`` it logs the file and a count and trains on other samples."""
    root, data_root, _ = assets
    broken_root = tmp_path / 'data'
    import shutil
    shutil.copytree(data_root, broken_root)
    first = (broken_root / 'output_phrase_train.txt').read_text().split()[0]
    image = broken_root / 'images' / f'{first}.tif'
    image.write_bytes(b'\x00garbage')
    cfg = tiny_cfg(assets, tmp_path / 'raise', max_iters=2)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(broken_root)
    with pytest.raises(ValueError, match=f'Cannot (read|decode) the image {image}'):
        run(cfg)
    cfg.work_dir = str(tmp_path / 'skip')
    cfg.train_dataloader.dataset.pipeline[0].on_error = 'skip'
    runner = run(cfg)
    assert runner.iter == 2
    # (MMEngine reuses the logger of a run started in the same second: search every log)
    log = '\n'.join(p.read_text() for p in tmp_path.glob('**/*.log'))
    assert 'skipped an unreadable image (1 in this process so far)' in log and str(image) in log


def test_resume_mistakes_are_named(assets, tmp_path):
    cfg = tiny_cfg(assets, tmp_path / 'empty')
    cfg.resume = True
    with pytest.raises(SystemExit, match='holds no checkpoint to resume from'):
        check_resume(cfg)
    # a checkpoint written by a run with another model config
    work = tmp_path / 'changed'
    work.mkdir()
    other = tiny_cfg(assets, work)
    other.model.decode_head.channels = 8
    torch.save(dict(meta=dict(cfg=other.pretty_text, iter=2), state_dict={}),
               str(work / 'iter_2.pth'))
    (work / 'last_checkpoint').write_text(str(work / 'iter_2.pth'))
    cfg = tiny_cfg(assets, work)
    cfg.resume = True
    with pytest.raises(SystemExit, match=r'another model config \(differs in '
                       r'model\.decode_head\)'):
        check_resume(cfg)
    # last_checkpoint names a file that is gone: the newest intact one is used
    (work / 'last_checkpoint').write_text(str(work / 'iter_4.pth'))
    torch.save(dict(meta=dict(cfg=cfg.pretty_text, iter=2), state_dict={}),
               str(work / 'iter_2.pth'))
    cfg.load_from = None
    check_resume(cfg)
    assert cfg.load_from == str(work / 'iter_2.pth')


def test_stopped_message_says_what_was_kept(tmp_path):
    from types import SimpleNamespace
    runner = SimpleNamespace(work_dir=str(tmp_path), iter=7, epoch=0)
    msg = stopped_message(runner, OSError('disk full'))
    assert 'iteration 7' in msg and 'no checkpoint was written yet' in msg
    torch.save({}, str(tmp_path / 'iter_6.pth'))
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_6.pth'))
    msg = stopped_message(runner, OSError('disk full'))
    assert f'the last checkpoint is {tmp_path / "iter_6.pth"}' in msg and '--resume' in msg


def test_cpu_without_native_bf16_trains_in_float32(monkeypatch):
    """bfloat16 autocast on a CPU without AVX512-BF16/AMX (oneDNN emulates it, 5.8x slower):
    falls back to float32 and says so; ``cpu_fallback=False`` keeps bfloat16."""
    from mmrrsis.engine.optimizers import autocast_optim_wrapper as mod
    monkeypatch.setattr(mod, 'cpu_has_native_bf16', lambda: False)
    messages = []
    monkeypatch.setattr(mod, 'print_log', lambda msg, *a, **k: messages.append(msg))
    model = torch.nn.Linear(4, 4)
    for fallback, dtype in ((True, torch.float32), (False, torch.bfloat16)):
        wrapper = mod.AutocastOptimWrapper(
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1), cpu_fallback=fallback)
        with wrapper.optim_context(model):
            out = model(torch.randn(2, 4))
        assert out.dtype == dtype
    assert len(messages) == 1 and 'no native bfloat16' in messages[0]
    monkeypatch.setattr(mod, 'cpu_has_native_bf16', lambda: True)
    wrapper = mod.AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with wrapper.optim_context(model):
        assert model(torch.randn(2, 4)).dtype == torch.bfloat16

