# Copyright (c) mmrrsis contributors. All rights reserved.
"""The machine-checkable rows of every model README's recipe card: each paper config against
the official training script (values written here from the official code, file:line in
``configs/<model>/README.md``), not against another config."""
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS

from mmrrsis.testing import make_tiny_bert

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'

LAVT = dict(lr=5e-5, epochs=40, total_batch=32, dropout='none', official_split='val',
            seed=None, boxes=False)
LGCE = dict(LAVT, total_batch=8, official_split='test')
RMSIN = dict(lr=3e-5, epochs=40, total_batch=8, dropout='all', official_split='val', seed=2401,
             boxes=True)
FIANET = dict(RMSIN, official_split='test')
#: config -> the official recipe (BTDNet: RMSIN's protocol, as its README names it)
PAPER = {
    'lavt/lavt_swin-b-w12_bert-base_4xb8-40e_refsegrs-480x480.py': LAVT,
    'lavt/lavt_swin-b-w12_bert-base_4xb8-40e_rrsisd-480x480.py': LAVT,
    'lavt/lavt_swin-b-w12_bert-base_4xb8-40e_rrsisd-480x480_dice.py': LAVT,
    'lavt/lavt_swin-b-w12_bert-base_4xb8-40e_risbench-480x480.py': LAVT,
    'lavt/lavt_swin-b-w12_bert-base_4xb8-40e_rrsishr-480x480.py': LAVT,
    'lavt/lavt_swin-b-w12_bert-base_4xb8-40e_nwpu-refer-480x480.py': LAVT,
    'lgce/lgce_swin-b-w12_bert-base_1xb8-40e_refsegrs-480x480.py': LGCE,
    'lgce/lgce_swin-b-w12_bert-base_1xb8-40e_rrsisd-480x480.py': LGCE,
    'lgce/lgce-port_swin-b-w12_bert-base_1xb8-40e_refsegrs-480x480.py': LGCE,
    'rmsin/rmsin_swin-b-w12_bert-base_4xb2-40e_rrsisd-480x480.py': RMSIN,
    # RMSIN ships no RefSegRS recipe: RRSIS-D's for 60 epochs; boxes are RRSIS-D's loader's
    'rmsin/rmsin_swin-b-w12_bert-base_4xb2-60e_refsegrs-480x480.py':
    dict(RMSIN, epochs=60, boxes=False),
    'fianet/fianet_swin-b-w12_bert-base_1xb8-60e_refsegrs-480x480.py':
    dict(FIANET, lr=5e-5, epochs=60, boxes=False),
    'fianet/fianet_swin-b-w12_bert-base_1xb8-40e_rrsisd-480x480.py': FIANET,
    'fianet/fianet_swin-b-w12_bert-base_1xb8-40e_risbench-480x480.py': FIANET,
    'btdnet/btdnet_swin-b-w12_bert-base_4xb2-60e_refsegrs-480x480.py':
    dict(RMSIN, lr=5e-5, epochs=60, boxes=False, official_split=None),
    'btdnet/btdnet_swin-b-w12_bert-base_4xb2-40e_rrsisd-480x480.py':
    dict(RMSIN, boxes=False, official_split=None),
    'btdnet/btdnet_swin-b-w12_bert-base_4xb2-40e_risbench-480x480.py':
    dict(RMSIN, boxes=False, official_split=None),
}


def test_every_paper_config_has_a_card_row():
    found = {str(p.relative_to(CONFIGS)) for p in CONFIGS.glob('*/*_swin-b-w12_bert-base_*.py')}
    assert found == set(PAPER)


@pytest.mark.parametrize('name', sorted(PAPER))
def test_recipe_rows(name):
    official = PAPER[name]
    cfg = Config.fromfile(str(CONFIGS / name))
    # total batch: GPUs (from the name, MMSeg's convention) x images per GPU
    gpus, per_gpu = map(int, re.search(r'_(\d+)xb(\d+)-', name).groups())
    assert cfg.train_dataloader.batch_size == per_gpu
    assert gpus * per_gpu == cfg.auto_scale_lr.base_batch_size == official['total_batch']
    assert cfg.auto_scale_lr.enable is False
    assert cfg.train_dataloader.drop_last is True  # train.py: drop_last=True
    # schedule: epochs, per-iteration poly decay to 0 over the whole run, no warm-up
    assert cfg.train_cfg.max_epochs == official['epochs']
    (poly, ) = cfg.param_scheduler
    assert (poly.type, poly.power, poly.eta_min, poly.begin, poly.end) == (
        'ExactPolyLR', 0.9, 0.0, 0, official['epochs'])
    assert poly.by_epoch and poly.convert_to_iter_based
    # optimizer and precision: float32 AdamW as the official scripts
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, tuple(opt.betas), opt.weight_decay) == (
        'AdamW', official['lr'], (0.9, 0.999), 0.01)
    assert cfg.optim_wrapper.type == 'OptimWrapper' and not opt.get('fused')
    assert 'clip_grad' not in cfg.optim_wrapper
    # selection and seed
    assert cfg.selection.protocol == 'clean'
    if official['official_split'] is not None:
        assert cfg.selection.official_split == official['official_split']
    assert cfg.get('randomness', {}).get('seed') == official['seed']
    # text: the dropout regime, BERT layers 0-9 trained
    text = cfg.model.text_encoder
    assert text.dropout == official['dropout']
    assert tuple(text.trainable_layers) == (0, 10)
    # augmentation: only RMSIN/FIANet on RRSIS-D draw black boxes
    train_types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert ('RandomBlackBoxes' in train_types) == official['boxes']
    assert [t for t in train_types if t not in ('RandomBlackBoxes', )] == [
        'LoadRRSISImageFromFile', 'LoadRRSISAnnotations', 'Resize', 'PackRRSISInputs']
    # RRSIS-D image / RLE size mismatches are trained on as the official loaders do
    if 'rrsisd' in name:
        loads = [t for t in cfg.train_dataloader.dataset.pipeline + cfg.test_dataloader.dataset
                 .pipeline if t['type'] == 'LoadRRSISAnnotations']
        assert all(t.get('on_size_mismatch') == 'keep' for t in loads)
    # SimpleDecoding's PyTorch-default initialisation
    if cfg.model.decode_head.type in ('LAVTHead', 'RMSINHead'):
        assert cfg.model.decode_head.init_mode == 'pytorch'
    assert cfg.sync_bn == 'torch'  # train.py converts every BN to SyncBN


@pytest.fixture(scope='module')
def bert12(tmp_path_factory):
    """BERT-base's layout (12 layers, width 768) with tiny layers: the parameter names and the
    widths the backbones read are those of bert-base-uncased."""
    return make_tiny_bert(str(tmp_path_factory.mktemp('bert12')), hidden_size=768,
                          num_layers=12, num_heads=12, weights=False)


def _official_decay(name: str, family: str) -> float:
    """Weight decay of the official parameter groups (train.py, LAVT family): no decay for
    backbone parameters whose name contains 'norm', 'absolute_pos_embed' or
    'relative_position_bias_table'; 0.01 for the rest of the backbone, the classifier and BERT.
    RMSIN's CIM and FIANet's TMEM live inside the official backbone; their BatchNorm 'bn' is
    `neck.norm` here."""
    in_backbone = name.startswith('backbone.') or (
        family in ('rmsin', 'fianet') and name.startswith('neck.'))
    official_name = name.replace('neck.norm.', 'neck.bn.')
    if in_backbone and any(k in official_name for k in (
            'norm', 'absolute_pos_embed', 'relative_position_bias_table')):
        return 0.
    return 0.01


@pytest.mark.slow
@pytest.mark.parametrize('name', [
    'lavt/lavt_swin-b-w12_bert-base_4xb8-40e_refsegrs-480x480.py',
    'lgce/lgce_swin-b-w12_bert-base_1xb8-40e_refsegrs-480x480.py',
    'rmsin/rmsin_swin-b-w12_bert-base_4xb2-40e_rrsisd-480x480.py',
    'fianet/fianet_swin-b-w12_bert-base_1xb8-40e_rrsisd-480x480.py',
])
def test_parameter_groups_and_dropout_of_the_built_model(name, bert12, one_thread):
    """Per parameter: lr, weight decay and trainable from the optim wrapper MMEngine builds
    from the config, against the official groups; BERT dropout flags after ``train()``."""
    family = name.split('/')[0]
    official = PAPER[name]
    cfg = Config.fromfile(str(CONFIGS / name))
    cfg.model.text_encoder.update(name_or_path=bert12, pretrained=False)
    cfg.model.backbone.init_cfg = None
    cfg.model.backbone.depths = [2, 2, 2, 2]  # names as Swin-B's; fewer blocks in stage 3
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    groups = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            groups[id(p)] = group
    for pname, p in model.named_parameters():
        bert = re.fullmatch(r'text_encoder\.model\.(.+)', pname)
        trained = (re.match(r'encoder\.layer\.\d\.', bert[1]) is not None) if bert else True
        assert p.requires_grad == trained, pname
        if not trained:
            continue
        group = groups[id(p)]
        assert group['lr'] == official['lr'], pname
        assert group['weight_decay'] == pytest.approx(_official_decay(pname, family)), pname
    # dropout regime after model.train(): LAVT/LGCE none anywhere, RMSIN/FIANet everywhere
    model.train()
    flags = {n: m.training for n, m in model.text_encoder.named_modules()
             if isinstance(m, torch.nn.Dropout)}
    assert flags and set(flags.values()) == {official['dropout'] == 'all'}, flags
    model.eval()
    assert not any(m.training for m in model.text_encoder.modules())


def test_exact_poly_lr_is_the_official_lambda_lr():
    """ExactPolyLR, iteration-based from 3 epochs of 4 iterations: the learning rate of every
    step equals LambdaLR((1 - it / (N * E)) ** 0.9) (MMEngine's PolyLR runs a step ahead)."""
    from mmseg.registry import PARAM_SCHEDULERS
    lr, N, E = 0.01, 4, 3
    ref = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    official = torch.optim.lr_scheduler.LambdaLR(ref, lambda x: (1 - x / (N * E))**0.9)
    ours = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = PARAM_SCHEDULERS.get('ExactPolyLR').build_iter_from_epoch(
        ours, power=0.9, eta_min=0.0, begin=0, end=E, epoch_length=N)
    for step in range(N * E):
        assert ours.param_groups[0]['lr'] == pytest.approx(ref.param_groups[0]['lr'],
                                                           rel=1e-12), step
        assert ours.param_groups[0]['lr'] > 0
        official.step()
        scheduler.step()
