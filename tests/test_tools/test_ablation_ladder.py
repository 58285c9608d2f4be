# Copyright (c) mmrrsis contributors. All rights reserved.
"""tools/analysis_tools/ablation_ladder.py: tables from finished runs (no training here) and the
cached grounding diagnostic."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
from unittest import mock

import numpy as np
import pytest

SCRIPT = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
                  'analysis_tools', 'ablation_ladder.py')


@pytest.fixture(scope='module')
def ladder():
    spec = importlib.util.spec_from_file_location('ablation_ladder', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _finish(ladder, work, row, seed, oiou, checkpoint='best_oIoU_iter_600.pth'):
    out = ladder.run_dir(str(work), 'hard', row, seed, 600, 'btdnet-neck')
    os.makedirs(out)
    metrics = {k: oiou + i for i, k in enumerate(ladder.METRICS)}
    metrics.update(checkpoint=checkpoint, train_seconds=10.0 * (seed + 1))
    with open(osp.join(out, 'metrics.json'), 'w') as f:
        json.dump(metrics, f)
    open(osp.join(out, checkpoint), 'w').close()
    return out


def test_every_ladder_config_exists(ladder):
    for rows in ladder.LADDERS.values():
        for _, config, _ in rows:
            assert osp.isfile(osp.join(ladder.REPO, config)), config
    # run directories are named by the row's first word: these must be unique per ladder
    for rows in ladder.LADDERS.values():
        slugs = [name.split(' ')[0] for name, _, _ in rows]
        assert len(slugs) == len(set(slugs))


def test_collect_mean_and_sample_std(ladder, tmp_path):
    rows = [r for r in ladder.LADDERS['btdnet-neck'] if r[0].startswith(('2n ', '3fln '))]
    for seed, value in zip((0, 1, 2), (40.0, 50.0, 57.0)):
        _finish(ladder, tmp_path, rows[1][0], seed, value)
    _finish(ladder, tmp_path, rows[0][0], 0, 30.0)
    table = ladder.collect(str(tmp_path), 'hard', rows, [0, 1, 2], 600, 'btdnet-neck')
    three = table[rows[1][0]]
    assert three['seeds'] == 3
    assert three['oIoU']['mean'] == pytest.approx(49.0)
    assert three['oIoU']['std'] == pytest.approx(np.std([40, 50, 57], ddof=1))
    assert three['mIoU']['values'] == [41.0, 51.0, 58.0]
    assert three['train_seconds'] == pytest.approx(20.0)
    assert table[rows[0][0]]['oIoU']['std'] == 0.0  # one seed: no spread
    md = ladder.markdown(table)
    assert f"| {rows[1][0]} | 3 | 49.00 ± {three['oIoU']['std']:.2f} |" in md


def test_grounding_runs_once_and_caches(ladder, tmp_path):
    out = _finish(ladder, tmp_path, '3fln x', 0, 50.0)
    line = json.dumps(dict(loss_rec=0.1, loss_rec_shuffled=0.2, ratio=2.0,
                           loss_rec_constant=0.3, word_spread_encoded=0.5,
                           word_spread_updated=0.01))
    done = subprocess.CompletedProcess([], 0, stdout=f'text\n{line}\n', stderr='')
    with mock.patch.object(ladder.subprocess, 'run', return_value=done) as run:
        first = ladder.grounding_one('configs/x.py', ['a=1'], out, '/data/hard', 5)
        again = ladder.grounding_one('configs/x.py', ['a=1'], out, '/data/hard', 5)
    assert run.call_count == 1  # the second call reads grounding.json
    cmd = run.call_args[0][0]
    assert cmd[2:4] == [osp.join(ladder.REPO, 'configs/x.py'),
                        osp.join(out, 'best_oIoU_iter_600.pth')]
    assert cmd[cmd.index('--max-batches') + 1] == '5'
    assert cmd[-2:] == ['test_dataloader.dataset.data_root=/data/hard', 'a=1']
    assert first == again and first['ratio'] == 2.0
    md = ladder.grounding_markdown([('3fln x', 0, first),
                                    ('2n y', 1, dict(word_spread_encoded=0.5,
                                                     word_spread_updated=0.4))])
    assert '| 3fln | 0 | 0.1000 | 0.2000 | 2.000 | 0.3000 | 0.5000 | 0.0100 |' in md
    assert '| 2n | 1 | — | — | — | — | 0.5000 | 0.4000 |' in md


def test_grounding_failure_is_kept_not_retried(ladder, tmp_path, capsys):
    out = _finish(ladder, tmp_path, '0 lavt', 0, 40.0)
    failed = subprocess.CompletedProcess([], 1, stdout='', stderr='boom\nerror: not a BTDNet\n')
    with mock.patch.object(ladder.subprocess, 'run', return_value=failed) as run:
        assert ladder.grounding_one('configs/x.py', [], out, '/d') is None
        assert ladder.grounding_one('configs/x.py', [], out, '/d') is None
    assert run.call_count == 1
    assert 'exited 1: error: not a BTDNet' in capsys.readouterr().out
    with open(osp.join(out, 'grounding.json')) as f:
        assert 'error' in json.load(f)
    # an unfinished run or a missing checkpoint is skipped without a subprocess
    with mock.patch.object(ladder.subprocess, 'run') as run:
        assert ladder.grounding_one('c.py', [], str(tmp_path / 'none'), '/d') is None
        out2 = _finish(ladder, tmp_path, '1 bsc', 0, 40.0)
        os.remove(osp.join(out2, 'best_oIoU_iter_600.pth'))
        assert ladder.grounding_one('c.py', [], out2, '/d') is None
    run.assert_not_called()
