# Copyright (c) mmrrsis contributors. All rights reserved.
"""The synthetic LGCE and FIANet configs train for a few iterations through the Runner
(in-process, shrunk to 64 px and a tiny offline BERT); their ladder rows learn everywhere."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.structures import PixelData

from mmrrsis.datasets.synthetic import generate_synthetic_dataset
from mmrrsis.testing import make_tiny_bert
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

CONFIG_ROOT = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs')
CONFIGS = ['lgce/lgce_swin-tiny_minilm_1xb16-2k_synth-128x128.py',
           'fianet/fianet_swin-tiny_minilm_1xb16-2k_synth-128x128.py']
SIZE = 64


@pytest.fixture(scope='module')
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp('synth_train')
    data_root = str(root / 'synth')
    generate_synthetic_dataset(data_root, num_images=8, image_size=SIZE, seed=0,
                               progress=False)
    return data_root, make_tiny_bert(str(root / 'bert'))


def _shrink(cfg, data_root, bert, work_dir):
    cfg.work_dir = work_dir
    cfg.model.text_encoder.update(name_or_path=bert, trainable_layers=None)
    cfg.model.backbone.update(text_dim=32, depths=[1, 1, 1, 1], pretrain_img_size=SIZE)
    cfg.model.neck.text_channels = 32
    cfg.model.data_preprocessor.size = (SIZE, SIZE)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.update(num_workers=0, persistent_workers=False)
        loader.dataset.data_root = data_root
        loader.dataset.pipeline[2].scale = (SIZE, SIZE)  # the Resize step of synth.py
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.update(max_iters=3, val_interval=3)
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=100, save_best=None)
    cfg.default_hooks.pop('visualization', None)
    cfg.visualizer = dict(type='SegLocalVisualizer', vis_backends=[dict(type='LocalVisBackend')],
                          name='visualizer')
    return cfg


@pytest.mark.parametrize('config', CONFIGS, ids=lambda c: c.split('/')[0])
def test_synthetic_config_trains(assets, config, tmp_path):
    data_root, bert = assets
    cfg = _shrink(Config.fromfile(osp.join(CONFIG_ROOT, config)), data_root, bert,
                  str(tmp_path / 'work_dir'))
    runner = Runner.from_cfg(cfg)
    before = {n: p.detach().clone() for n, p in runner.model.named_parameters()}
    runner.train()
    assert runner.iter == 3
    changed = [n for n, p in runner.model.named_parameters()
               if not torch.equal(before[n], p.detach())]
    prefix = 'neck.' if 'lgce' in config else 'backbone.opabs.'
    assert any(n.startswith(prefix) for n in changed)
    metrics = runner.message_hub.get_info('eval_oIoU', None)
    scalars = runner.message_hub.log_scalars
    assert metrics is not None or any('oIoU' in k for k in scalars)


NECK_CONFIGS = ['lgce/lgce-neck_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py',
                'fianet/fianet-neck_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']


@pytest.mark.parametrize('config', NECK_CONFIGS, ids=lambda c: c.split('/')[0] + '-neck')
def test_ladder_comparison_rows_learn_everywhere(assets, config):
    """The FIANet / LGCE rows of the BTDNet ladder (their language parts as a SequentialNeck
    on the ladder's ResNet-18): one loss step reaches every trainable parameter."""
    _, bert = assets
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, config))
    cfg.model.text_encoder.update(name_or_path=bert)
    for sub in cfg.model.neck.necks:
        sub.update({'text_dim' if 'text_dim' in sub else 'text_channels': 32})
    cfg.model.data_preprocessor.size = (SIZE, SIZE)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    samples = []
    for text in ('the small storage tank on the left', 'the large storage tank at the top'):
        s = SegDataSample(metainfo=dict(text=text, img_shape=(SIZE, SIZE),
                                        ori_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE)))
        s.gt_sem_seg = PixelData(data=(torch.rand(1, SIZE, SIZE) > 0.7).long())
        samples.append(s)
    losses = model.loss(torch.randn(2, 3, SIZE, SIZE), samples)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert not any(n.startswith('text_encoder.') for n in trainable)  # frozen, as the row
    assert not [n for n in trainable if dict(model.named_parameters())[n].grad is None]
    # ResNet's zero-initialised residual BNs hold the backbone's grads at 0 on step one;
    # every part of the neck and the head receives a non-zero gradient
    dead = [n for n, p in model.named_parameters() if p.requires_grad and
            not n.startswith('backbone.') and not p.grad.abs().sum()]
    assert not dead
    assert any(n.startswith('neck.necks.1.') for n in trainable)
