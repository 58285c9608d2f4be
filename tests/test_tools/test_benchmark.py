# Copyright (c) mmrrsis contributors. All rights reserved.
"""tools/analysis_tools/benchmark.py: both paths run, agree numerically, and the last line is
the JSON record (no timing assertions: the tool measures, the test checks its numbers)."""
import json
import os.path as osp
import sys

import pytest

TOOLS = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
                 'analysis_tools')
sys.path.insert(0, TOOLS)
import benchmark  # noqa: E402

CONFIG = 'configs/lavt/lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py'
KEYS = {'config', 'mode', 'batch_size', 'baseline_s', 'fast_s', 'ratio', 'baseline_peak_gb',
        'fast_peak_gb'}


pytestmark = pytest.mark.usefixtures('one_thread')


def _last_json(capsys) -> dict:
    lines = capsys.readouterr().out.strip().splitlines()
    return json.loads(lines[-1])


def test_train_mode_reports_gradient_agreement(capsys):
    argv = [osp.join(benchmark.ROOT, CONFIG), '--mode', 'train', '--repeat', '1', '--warmup',
            '0', '--no-memory', '--device', 'cpu', '--cfg-options', 'model.attn_impl=sdpa',
            'optim_wrapper.optimizer.fused=True']
    assert benchmark.main(argv) == 0
    r = _last_json(capsys)
    assert KEYS | {'grad_cosine'} <= set(r)
    assert r['mode'] == 'train' and r['batch_size'] == 1 and r['img_size'] == 128
    # the synthetic config trains under bfloat16 autocast: that is its fast path
    assert r['fast_path']['dtype'] == 'bfloat16' and r['fast_path']['attn_impl'] == 'sdpa'
    assert r['fast_path']['fused']
    assert 0.99 <= r['grad_cosine'] <= 1.0 + 1e-9
    assert r['baseline_s'] > 0 and r['fast_s'] > 0
    assert r['ratio'] == pytest.approx(r['fast_s'] / r['baseline_s'])


def test_infer_mode_float32_fast_path_is_the_baseline_numerically(capsys):
    """With only the fused attention on, inference agrees with the baseline to float
    rounding; peak memory comes from two fresh processes."""
    argv = [osp.join(benchmark.ROOT, CONFIG), '--mode', 'infer', '--batch-size', '2',
            '--repeat', '1', '--warmup', '0', '--device', 'cpu', '--perturb', '0.02',
            '--cfg-options', 'model.attn_impl=sdpa']
    assert benchmark.main(argv) == 0
    r = _last_json(capsys)
    assert KEYS | {'logit_max_abs_diff', 'argmax_agreement'} <= set(r)
    assert r['fast_path']['dtype'] is None
    assert r['logit_max_abs_diff'] < 1e-3
    assert r['argmax_agreement'] > 0.999
    assert r['baseline_peak_gb'] > 0.1 and r['fast_peak_gb'] > 0.1


def test_baseline_config_turns_every_fast_switch_off():
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(
        benchmark.ROOT, 'configs/lavt/lavt_swin-b-w12_bert-base_4xb8-40e_rrsisd-480x480.py'))
    assert cfg.model.attn_impl == 'sdpa'  # SDPA: the same computation within rounding
    # the paper configs train in float32 as the official scripts; --amp is the fast path
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert not cfg.optim_wrapper.optimizer.get('fused')
    assert benchmark.fast_settings(cfg, 'train', 'cpu')['dtype'] is None
    from mmrrsis.utils.training import enable_fast_path
    enable_fast_path(cfg)
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'
    assert cfg.optim_wrapper.optimizer.fused
    model = dict(cfg.model, test_cfg=dict(mode='whole', autocast='bfloat16'))
    model['backbone'] = dict(model['backbone'], with_cp=True)
    base = benchmark.baseline_model_cfg(model)
    assert base['attn_impl'] == 'eager' and not base['backbone']['with_cp']
    assert base['text_encoder']['attn_implementation'] == 'eager'
    assert 'autocast' not in base['test_cfg']
    settings = benchmark.fast_settings(cfg, 'train', 'cpu')
    assert settings['dtype'] == 'bfloat16' and settings['fused']
    assert benchmark.fast_settings(cfg, 'infer', 'cpu')['dtype'] is None


def _all_configs():
    import glob
    return sorted(osp.relpath(p, benchmark.ROOT) for p in glob.glob(
        osp.join(benchmark.ROOT, 'configs', '*', '*.py')) if '_base_' not in p)


@pytest.mark.parametrize('config', _all_configs())
def test_every_config_has_both_paths(config):
    """The tool's preparation (offline text encoder, both model configs, the fast settings)
    works for every config; each path builds in test_config.py."""
    args = benchmark.parse_args([osp.join(benchmark.ROOT, config)])
    cfg = benchmark.load_config(args)
    base, fast, size = benchmark.prepare(cfg, args)
    assert base['attn_impl'] == 'eager' and size > 0
    for text in benchmark._text_encoders(base):
        assert text['attn_implementation'] == 'eager' and text['pretrained'] is False
    for mode in ('train', 'infer'):
        settings = benchmark.fast_settings(cfg, mode, 'cpu')
        assert settings['dtype'] in (None, 'bfloat16', 'float16', 'float32')
    if '480x480' in config:  # the paper configs: float32, --amp gives the fast path
        assert fast['attn_impl'] == 'sdpa'
        assert benchmark.fast_settings(cfg, 'train', 'cpu')['dtype'] is None
        cfg = benchmark.load_config(benchmark.parse_args([osp.join(benchmark.ROOT, config),
                                                          '--amp']))
        assert benchmark.fast_settings(cfg, 'train', 'cpu')['dtype'] == 'bfloat16'
