# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest
import torch
import torch.nn as nn

import mmrrsis  # noqa: F401  (fills the registries)
from mmrrsis.engine import AutocastOptimWrapper
from mmseg.registry import OPTIM_WRAPPERS


class _Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(x)


def test_forward_runs_in_bfloat16_and_updates_float32_params():
    torch.manual_seed(0)
    net = _Net()
    before = net.fc.weight.detach().clone()
    wrapper = OPTIM_WRAPPERS.build(
        dict(type='AutocastOptimWrapper', optimizer=torch.optim.SGD(net.parameters(), lr=0.1)))
    assert isinstance(wrapper, AutocastOptimWrapper) and wrapper.cast_dtype == torch.bfloat16
    x = torch.randn(3, 8)
    with wrapper.optim_context(net):
        out = net(x)
    assert out.dtype == torch.bfloat16  # the matmul ran under autocast on the CPU
    wrapper.update_params(out.float().pow(2).mean())
    assert net.fc.weight.dtype == torch.float32
    assert not torch.equal(net.fc.weight, before)
    # outside the context nothing is cast
    assert net(x).dtype == torch.float32


def test_rejects_unknown_dtype():
    with pytest.raises(ValueError, match='dtype'):
        AutocastOptimWrapper(dtype='int8', optimizer=torch.optim.SGD(_Net().parameters(), lr=1))


def test_float32_turns_autocast_off():
    net = _Net()
    wrapper = OPTIM_WRAPPERS.build(
        dict(type='AutocastOptimWrapper', dtype='float32',
             optimizer=torch.optim.SGD(net.parameters(), lr=0.1)))
    with wrapper.optim_context(net):
        assert net(torch.randn(2, 8)).dtype == torch.float32


def test_cuda_without_bfloat16_falls_back_to_float32(monkeypatch):
    wrapper = AutocastOptimWrapper(optimizer=torch.optim.SGD(_Net().parameters(), lr=1))
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: False)
    assert not wrapper._enabled('cuda')
    assert wrapper._enabled('cpu')
