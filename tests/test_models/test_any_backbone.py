# Copyright (c) mmrrsis contributors. All rights reserved.
"""Plain MMSeg / MMPretrain backbones + LanguageFusionNeck: the configs/lavt/fusionneck_* set.

Each config changes only the backbone (and channels) of the demo LAVT; here every one is built
with a tiny local BERT, trained one step and asked for masks.
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmrrsis.models.segmentors.rrsis_encoder_decoder import takes_text
from mmrrsis.testing.tiny_models import make_tiny_bert

CONFIG_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
                      'lavt')
FAMILIES = {
    'fusionneck_r18_minilm_1xb16-2k_synth-128x128.py': 'ResNetV1c',
    'fusionneck_mit-b0_minilm_1xb16-2k_synth-128x128.py': 'MixVisionTransformer',
    'fusionneck_swin-tiny_minilm_1xb16-2k_synth-128x128.py': 'SwinTransformer',
    'fusionneck_vit-tiny_minilm_1xb16-2k_synth-128x128.py': 'VisionTransformer',
    'fusionneck_convnext-atto_minilm_1xb16-2k_synth-128x128.py': 'ConvNeXt',
}
TINY_TEXT_DIM = 32
IMG_SIZE, ORI_SHAPE = 64, (48, 80)


@pytest.fixture(scope='module', autouse=True)
def _single_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a busy machine the thread
    pool's contention makes each step 100x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def bert_dir(tmp_path_factory):
    return make_tiny_bert(str(tmp_path_factory.mktemp('tiny_bert')), hidden_size=TINY_TEXT_DIM,
                          weights=False)


def _build(config, bert_dir):
    cfg = copy.deepcopy(Config.fromfile(osp.join(CONFIG_DIR, config)).model)
    cfg.text_encoder.update(name_or_path=bert_dir, pretrained=False, trainable_layers=None,
                            max_tokens=12)
    cfg.neck.text_dim = TINY_TEXT_DIM
    cfg.test_cfg.eval_at_input_res = False  # resize the masks to ori_shape
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    return model


def _samples():
    texts = ['the small red car on the left', 'a building']
    g = torch.Generator().manual_seed(0)
    samples = []
    for text in texts:
        sample = SegDataSample(metainfo=dict(
            text=text, img_shape=(IMG_SIZE, IMG_SIZE), pad_shape=(IMG_SIZE, IMG_SIZE),
            ori_shape=ORI_SHAPE))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, IMG_SIZE, IMG_SIZE),
                                                         generator=g))
        samples.append(sample)
    return torch.randn(len(texts), 3, IMG_SIZE, IMG_SIZE, generator=g), samples


@pytest.mark.parametrize('config', list(FAMILIES))
def test_plain_backbone_with_fusion_neck(config, bert_dir):
    if 'convnext' in config:
        pytest.importorskip('mmpretrain', reason='ConvNeXt comes from the optional mmpretrain')
    model = _build(config, bert_dir)
    assert type(model.backbone).__name__ == FAMILIES[config]
    assert not takes_text(model.backbone)  # language enters through the neck only
    assert type(model.neck).__name__ == 'LanguageFusionNeck'

    inputs, samples = _samples()
    model.train()
    loss, _ = model.parse_losses(model.loss(inputs, samples))
    loss.backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    no_grad = [n for n, p in trainable if p.grad is None]
    assert not no_grad, f'no gradient reaches {no_grad}'
    assert all(torch.isfinite(p.grad).all() for _, p in trainable)
    for part in ('backbone', 'neck', 'decode_head', 'text_encoder'):
        grads = [p.grad for n, p in trainable if n.startswith(part + '.')]
        assert grads and sum(g.abs().sum() for g in grads) > 0, part

    model.eval()
    with torch.no_grad():
        results = model.predict(inputs, samples)
    for result in results:
        assert result.pred_sem_seg.data.shape == (1, *ORI_SHAPE)
        assert set(result.pred_sem_seg.data.unique().tolist()) <= {0, 1}
