# Copyright (c) mmrrsis contributors. All rights reserved.
from types import SimpleNamespace

import torch
import torch.nn as nn
from mmseg.registry import HOOKS

import mmrrsis  # noqa: F401  (fills the registries)


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 4, 1), nn.Flatten(2), nn.Conv1d(4, 2, 1)).eval()


def test_channels_last_hook_keeps_values_and_checkpoints():
    hook = HOOKS.build(dict(type='ChannelsLastHook'))
    x = torch.randn(2, 3, 9, 7)
    expected = _net()(x)
    for stage in ('before_train', 'before_val', 'before_test'):
        model = _net()
        getattr(hook, stage)(SimpleNamespace(model=model))
        assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
        assert not model[0].weight.is_contiguous()
        assert model[5].weight.is_contiguous()  # 3-D weights are left alone
        torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=1e-5)
    # a state dict of the converted model loads into a plain one and gives the same output
    fresh = _net()
    with torch.no_grad():
        for p in fresh.parameters():
            p.zero_()
    fresh.load_state_dict(model.state_dict())
    assert fresh[0].weight.is_contiguous()
    torch.testing.assert_close(fresh(x), expected, atol=1e-5, rtol=1e-5)
