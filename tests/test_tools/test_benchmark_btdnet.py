# Copyright (c) mmrrsis contributors. All rights reserved.
import os.path as osp
import runpy
import sys
from unittest import mock

import pytest
import torch

SCRIPT = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
                  'analysis_tools', 'benchmark_btdnet.py')


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    """Tiny tensors gain nothing from intra-op threads; on a shared CPU they cost 5-10x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_benchmark_small_runs(capsys):
    argv = [SCRIPT, '--small', '--repeat', '1', '--warmup', '0', '--device', 'cpu']
    with mock.patch.object(sys, 'argv', argv):
        runpy.run_path(SCRIPT, run_name='__main__')
    out = capsys.readouterr().out
    assert 'ratio BTDNet / LAVT' in out
    assert out.count('\nLAVT ') == 1 and out.count('\nBTDNet ') == 1
