# Copyright (c) mmrrsis contributors. All rights reserved.
"""Build every config (models offline, without pretrained weights) and run every pipeline."""
import copy
import glob
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmseg.registry import MODELS, TRANSFORMS
from PIL import Image

CONFIG_ROOT = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs')
ALL_CONFIGS = sorted(glob.glob(osp.join(CONFIG_ROOT, '**', '*.py'), recursive=True))
MODEL_CONFIGS = [p for p in ALL_CONFIGS if '_base_' not in p]
PIPELINE_KEYS = ('train_pipeline', 'test_pipeline', 'test_pipeline_ori_res')


def _rel(p):
    return osp.relpath(p, CONFIG_ROOT)


def _strip_pretrained(cfg):
    """Remove pretrained weights / init_cfg recursively so building needs no files."""
    if isinstance(cfg, dict):
        for key in list(cfg.keys()):
            if key == 'init_cfg':
                cfg[key] = None
            elif key == 'pretrained' and not isinstance(cfg[key], bool):
                cfg[key] = None
            else:
                _strip_pretrained(cfg[key])
    elif isinstance(cfg, (list, tuple)):
        for c in cfg:
            _strip_pretrained(c)


def test_configs_exist():
    assert any('_base_/datasets' in p for p in ALL_CONFIGS)


@pytest.mark.parametrize('path', ALL_CONFIGS, ids=_rel)
def test_config_loads(path):
    cfg = Config.fromfile(path)
    if '_base_' not in path:
        assert cfg.default_scope == 'mmseg'
        assert 'mmrrsis' in cfg.custom_imports['imports']


@pytest.mark.parametrize('path', MODEL_CONFIGS, ids=_rel)
def test_config_builds_model(path):
    cfg = Config.fromfile(path)
    if 'model' not in cfg:
        pytest.skip('no model in this config')
    model_cfg = copy.deepcopy(cfg.model)
    _strip_pretrained(model_cfg)
    model = MODELS.build(model_cfg)
    assert sum(p.numel() for p in model.parameters()) > 0


def _pipelines(path):
    cfg = Config.fromfile(path)
    for key in PIPELINE_KEYS:
        if key in cfg:
            yield key, cfg[key]


PIPELINES = [(p, k) for p in ALL_CONFIGS for k, _ in _pipelines(p)]


@pytest.mark.parametrize('path,key', PIPELINES, ids=[f'{_rel(p)}:{k}' for p, k in PIPELINES])
def test_pipeline_on_random_data(tmp_path, path, key):
    cfg = Config.fromfile(path)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)
    mask = (rng.random((70, 90)) > 0.7).astype(np.uint8) * 255
    Image.fromarray(img).save(tmp_path / 'img.tif')
    Image.fromarray(mask).save(tmp_path / 'mask.tif')
    results = dict(img_path=str(tmp_path / 'img.tif'), seg_map_path=str(tmp_path / 'mask.tif'),
                   text='the small red car on the left', ref_id='1', sent_id='1',
                   category=None, seg_fields=[], reduce_zero_label=False, label_map=None)
    for t in cfg[key]:
        results = TRANSFORMS.build(t)(results)
    sample = results['data_samples']
    assert sample.text == 'the small red car on the left'
    assert results['inputs'].shape[0] == 3
    assert sample.gt_sem_seg.data.max() <= 1


def test_model_index_lists_existing_configs():
    import yaml
    repo = osp.dirname(CONFIG_ROOT)
    index = yaml.safe_load(open(osp.join(repo, 'model-index.yml')))
    assert index['Import'], 'model-index.yml imports no metafile'
    for meta in index['Import']:
        models = yaml.safe_load(open(osp.join(repo, meta)))['Models']
        for m in models:
            assert osp.isfile(osp.join(repo, m['Config'])), f"{meta}: {m['Config']} is missing"
