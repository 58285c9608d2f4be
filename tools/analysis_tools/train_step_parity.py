# Copyright (c) mmrrsis contributors. All rights reserved.
"""Training-step parity of a paper config with the official LAVT training script.

Two processes, one file between them:

1. ``--side official --official-root DIR`` (a checkout of yz93/LAVT-RIS, e.g. from
   ``git clone``; needs ``timm``): builds a small official LAVT (``MultiModalSwinTransformer`` +
   ``SimpleDecoding`` + the official copy of ``BertModel``, drop path 0), seeds it, writes its
   weights and 3 fixed batches, then trains 3 steps exactly as the official ``train.py``
   (``--model lavt``): BERT a separate model in eval mode; the parameter groups (backbone
   ``norm`` / ``absolute_pos_embed`` / ``relative_position_bias_table`` without weight decay,
   the rest of the backbone, the classifier, BERT ``encoder.layer[0..9]``); AdamW; the
   per-iteration ``LambdaLR((1 - it / (N * E)) ** 0.9)``; weighted cross-entropy [0.9, 1.1];
   ``zero_grad, backward, step, scheduler.step``. It records the loss and the learning rate of
   every step and the weights after the last one.
2. ``--side mmrrsis``: the same weights converted with ``lavt2mmrrsis.convert_lavt`` into the
   model of the paper config (the same small widths through overrides), the optimizer wrapper
   MMEngine builds from the config (``build_optim_wrapper(model, cfg.optim_wrapper)``), the
   config's ``PolyLR`` made iteration-based as the runner does, and 3
   ``model.train_step(batch, optim_wrapper)`` calls on the same batches. It prints the
   per-step losses, learning rates and the largest parameter difference after 3 steps.

Example::

    python tools/analysis_tools/train_step_parity.py --side official \\
        --official-root /path/to/LAVT-RIS --work-dir work_dirs/parity
    python tools/analysis_tools/train_step_parity.py --side mmrrsis --work-dir work_dirs/parity

The official side imports the official package from ``--official-root`` (nothing of it is in
this repository); ``mmseg.utils.get_root_logger`` and ``lib.mmcv_custom`` (MMSeg 0.x / mmcv 1.x
APIs used only to load pretrained Swin files) get stand-ins in that process.
"""
import argparse
import json
import os
import os.path as osp
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: model -> (paper config, converter module, its conversion function)
MODEL_CONFIGS = {
    'lavt': 'configs/lavt/lavt_swin-b-w12_bert-base_4xb8-40e_refsegrs-480x480.py',
    'rmsin': 'configs/rmsin/rmsin_swin-b-w12_bert-base_4xb2-40e_rrsisd-480x480.py',
    'fianet': 'configs/fianet/fianet_swin-b-w12_bert-base_1xb8-40e_rrsisd-480x480.py',
}

#: The small model of the check: Swin widths 16-128, one block per stage, window 4, 64 px; a
#: BERT with BERT-base's width (768, the PWAM input) and 12 layers (train.py trains 0-9), each
#: layer cut to a 64-wide feed-forward. RMSIN's CIM hard-codes Swin-B's widths and a 15x15 last
#: stage: Swin-B widths (one block per stage, window 12) at 480x480 there.
ARCH = {
    'lavt': dict(embed=16, heads=[1, 2, 2, 4], window=4, size=64),
    'rmsin': dict(embed=128, heads=[4, 8, 16, 32], window=12, size=480),
    'fianet': dict(embed=128, heads=[4, 8, 16, 32], window=12, size=480),
}
EMBED, DEPTHS, HEADS, WINDOW, SIZE = 16, [1, 1, 1, 1], [1, 2, 2, 4], 4, 64


def use_arch(model: str) -> None:
    """Set the module-level sizes (and the structural zeros) for ``model``."""
    global EMBED, HEADS, WINDOW, SIZE
    a = ARCH[model]
    EMBED, HEADS, WINDOW, SIZE = a['embed'], a['heads'], a['window'], a['size']
    _EXTRA_ZEROS.clear()
    if model == 'fianet':
        from mmrrsis.testing import tmem_zeros
        _EXTRA_ZEROS.extend(tmem_zeros(r'neck\.', 3))
    if model == 'rmsin':
        from mmrrsis.testing import cim_zeros, text_features_zeros
        repblock = r'backbone\.visual_branches\.\d\.repblock\.'
        _EXTRA_ZEROS.extend([
            *cim_zeros(r'neck\.'), *text_features_zeros(r'text_encoder\.model\.', 11),
            r'backbone\.norm\d\.bias',
            rf'{repblock}(brb_1x1(_2)?\.conv\.weight|brb_3x3(_2)?\.conv1\.weight|'
            r'brb_3x3(_2)?\.bn1\.weight)'])
BERT = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=64, max_position_embeddings=64)
TOKENS, BATCH, STEPS = 20, 2, 3
TEXTS = ['the red car on the left', 'a white tank near the road', 'the big building',
         'the small ship at the top', 'two planes on the right', 'the green field']
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--side', choices=['official', 'mmrrsis'], required=True)
    p.add_argument('--model', choices=sorted(MODEL_CONFIGS), default='lavt',
                   help='lavt: yz93/LAVT-RIS (train.py --model lavt); rmsin: Lsan2401/RMSIN '
                   '(train.py, lavt_one)')
    p.add_argument('--official-root', help='checkout of the official repository')
    p.add_argument('--work-dir', default=osp.join(REPO, 'work_dirs', 'train_step_parity'))
    p.add_argument('--config', default=None, help='default: the paper config of --model')
    p.add_argument('--lr', type=float, default=5e-3,
                   help='the same on both sides; large enough that weight decay shows')
    p.add_argument('--epochs', type=int, default=None,
                   help="schedule length E (default: the config's max_epochs)")
    p.add_argument('--iters-per-epoch', type=int, default=1, help='N of the poly schedule')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--steps', type=int, default=STEPS, help='optimizer steps (official side)')
    p.add_argument('--float64', action='store_true',
                   help='both sides in float64: what is left of the float32 differences is '
                   'then the computation itself (rounding shrinks to ~1e-16)')
    p.add_argument('--noise-dir', default=None,
                   help='work dir of a second official run (e.g. OMP_NUM_THREADS=1): the '
                   'official code against itself, the float32 noise floor')
    p.add_argument('--attn', choices=['config', 'eager'], default='config',
                   help="mmrrsis side: the config's attention kernels (SDPA) or the official "
                   "code's matrix products ('eager')")
    return p.parse_args(argv)


def make_tokenizer_dir(work_dir: str) -> str:
    """A small WordPiece vocabulary (the words of ``TEXTS``) saved for both sides."""
    from mmrrsis.testing import make_tiny_bert
    words = sorted({w for t in TEXTS for w in t.split()})
    return make_tiny_bert(osp.join(work_dir, 'bert'), hidden_size=768, num_layers=12,
                          num_heads=12, weights=False, vocab=tuple(words))


def tokenize(tokenizer_dir: str, texts):
    """The official dataset's tokenisation: encode with [CLS]/[SEP], cut to 20, pad with 0."""
    from transformers import BertTokenizer
    tok = BertTokenizer.from_pretrained(tokenizer_dir)
    ids, masks = [], []
    for text in texts:
        t = tok.encode(text, add_special_tokens=True)[:TOKENS]
        ids.append(t + [0] * (TOKENS - len(t)))
        masks.append([1] * len(t) + [0] * (TOKENS - len(t)))
    return torch.tensor(ids), torch.tensor(masks)


def make_batches(seed: int, steps: int = STEPS):
    """``steps`` batches: uint8 RGB images (B, H, W, 3), targets (B, H, W) {0, 1}, texts."""
    rng = np.random.default_rng(seed)
    batches = []
    for step in range(steps):
        imgs = rng.integers(0, 256, (BATCH, SIZE, SIZE, 3), dtype=np.uint8)
        targets = np.zeros((BATCH, SIZE, SIZE), np.int64)
        for b in range(BATCH):
            y, x = rng.integers(0, SIZE // 2, 2)
            targets[b, y:y + SIZE // 3, x:x + SIZE // 3] = 1
        texts = TEXTS[(step * BATCH) % len(TEXTS):][:BATCH]
        batches.append(dict(imgs=imgs, targets=targets, texts=list(texts)))
    return batches


# ----------------------------------------------------------------------------- official side
def _import_official(root: str, model: str = 'lavt'):
    """Import the official modules, with stand-ins for the 0.x APIs they import."""
    import logging

    import mmseg.utils
    sys.path.insert(0, root)
    if not hasattr(mmseg.utils, 'get_root_logger'):  # MMSeg 0.x API
        mmseg.utils.get_root_logger = lambda *a, **k: logging.getLogger('official')
    custom = types.ModuleType('lib.mmcv_custom')
    custom.load_checkpoint = None  # only for pretrained Swin files
    sys.modules['lib.mmcv_custom'] = custom
    from bert.configuration_bert import BertConfig
    from bert.modeling_bert import BertModel
    from lib._utils import LAVT, LAVTOne
    from lib.backbone import MultiModalSwinTransformer
    from lib.mask_predictor import SimpleDecoding
    return (BertConfig, BertModel, LAVT if model == 'lavt' else LAVTOne,
            MultiModalSwinTransformer, SimpleDecoding)


def run_official(args) -> None:
    from functools import reduce
    import operator
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    global TOKENS
    TOKENS = cfg.model.text_encoder.max_tokens  # 20; FIANet on RRSIS-D: 22
    epochs = args.epochs or cfg.train_cfg.max_epochs
    tok_dir = make_tokenizer_dir(args.work_dir)
    BertConfig, BertModel, LAVT, Swin, SimpleDecoding = _import_official(
        args.official_root, args.model)
    torch.manual_seed(args.seed)
    extra = dict(num_tmem=cfg.model.neck.num_blocks) if args.model == 'fianet' else {}
    backbone = Swin(pretrain_img_size=SIZE, embed_dim=EMBED, depths=DEPTHS, num_heads=HEADS,
                    window_size=WINDOW, ape=False, drop_path_rate=0.0, patch_norm=True,
                    out_indices=(0, 1, 2, 3), use_checkpoint=False,
                    num_heads_fusion=[1, 1, 1, 1], fusion_drop=0.0, **extra)
    backbone.init_weights()
    dtype = torch.float64 if args.float64 else torch.float32
    with open(osp.join(tok_dir, 'vocab.txt')) as f:
        vocab_size = len(f.read().split())
    # RMSIN trains BERT in train mode: its dropout (and the rotated conv's routing dropout)
    # is set to 0 on both sides, so that one step is deterministic
    bert = BertModel(BertConfig(vocab_size=vocab_size, hidden_dropout_prob=0.0,
                                attention_probs_dropout_prob=0.0, **BERT))
    if args.model in ('rmsin', 'fianet'):  # LAVTOne loads BERT from a directory
        bert_dir = osp.join(args.work_dir, 'official_bert')
        bert.save_pretrained(bert_dir)
        model = LAVT(backbone, SimpleDecoding(8 * EMBED), types.SimpleNamespace(ck_bert=bert_dir))
        bert = model.text_encoder
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
    else:
        model = LAVT(backbone, SimpleDecoding(8 * EMBED))
        bert.pooler = None
        bert.eval()  # from_pretrained returns it in eval mode; train.py never calls bert.train()
    model.to(dtype)
    bert.to(dtype)
    torch.save(dict(model=model.state_dict(), bert_model=bert.state_dict()),
               osp.join(args.work_dir, 'official_init.pth'))

    # train.py: parameter groups, AdamW, LambdaLR per iteration, weighted CE
    no_decay, decay = [], []
    for name, p in model.backbone.named_parameters():
        (no_decay if ('norm' in name or 'absolute_pos_embed' in name
                      or 'relative_position_bias_table' in name) else decay).append(p)
    groups = [  # the same for --model lavt (bert_model) and lavt_one (model.text_encoder)
        {'params': no_decay, 'weight_decay': 0.0},
        {'params': decay},
        {'params': [p for p in model.classifier.parameters() if p.requires_grad]},
        {'params': reduce(operator.concat, [[p for p in bert.encoder.layer[i].parameters()
                                              if p.requires_grad] for i in range(10)])},
    ]
    opt = cfg.optim_wrapper.optimizer
    optimizer = torch.optim.AdamW(groups, lr=args.lr, weight_decay=opt.weight_decay,
                                  amsgrad=False)
    total = args.iters_per_epoch * epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda x: (1 - x / total)**0.9)
    weight = torch.tensor([0.9, 1.1], dtype=dtype)  # train.py: FloatTensor in float32 runs
    losses, lrs = [], []
    for batch in make_batches(args.seed, args.steps):
        model.train()
        image = (torch.from_numpy(batch['imgs']).permute(0, 3, 1, 2).to(dtype) / 255.
                 - torch.tensor(MEAN, dtype=dtype)[:, None, None]) / torch.tensor(
                     STD, dtype=dtype)[:, None, None]
        ids, mask = tokenize(tok_dir, batch['texts'])
        target = torch.from_numpy(batch['targets'])
        if args.model == 'fianet':  # object / position masks of the decoupled text
            masks = decoupled_masks(cfg, tok_dir, batch['texts'])
            assert torch.equal(masks['input_ids'], ids), 'the two tokenisations differ'
            output = model(image, ids, mask, masks['object_mask'], masks['position_mask'])
            loss = 0.9 * F.cross_entropy(output, target, weight=weight.to(dtype)) + \
                0.1 * official_dice(output, target)
        elif args.model == 'rmsin':  # BERT inside the model; loss/loss.py: 0.9 CE + 0.1 Dice
            output = model(image, ids, l_mask=mask)
            loss = 0.9 * F.cross_entropy(output, target, weight=weight.to(dtype)) + \
                0.1 * official_dice(output, target)
        else:
            hidden = bert(ids, attention_mask=mask)[0]
            output = model(image, hidden.permute(0, 2, 1), l_mask=mask.unsqueeze(-1))
            loss = F.cross_entropy(output, target, weight=weight.to(dtype))
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.zero_grad()
        loss.backward()
        if not losses:  # the gradients of the first step, for the per-tensor comparison
            torch.save(dict(model={k: p.grad for k, p in model.named_parameters()},
                            bert_model={k: p.grad for k, p in bert.named_parameters()}),
                       osp.join(args.work_dir, 'official_grads.pth'))
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    torch.save(dict(model=model.state_dict(), bert_model=bert.state_dict()),
               osp.join(args.work_dir, 'official_final.pth'))
    with open(osp.join(args.work_dir, 'official.json'), 'w') as f:
        json.dump(dict(losses=losses, lrs=lrs, lr=args.lr, epochs=epochs,
                       iters_per_epoch=args.iters_per_epoch, seed=args.seed,
                       steps=args.steps, float64=args.float64, model=args.model), f)
    print(json.dumps(dict(side='official', losses=losses, lrs=lrs)))


def decoupled_masks(cfg, tok_dir: str, texts) -> dict:
    """FIANet's inputs besides the token ids: the ground-object and spatial-position masks
    of each expression, as mmrrsis's ``DecoupledTextEncoder`` derives them from the raw text
    (the official dataset computes them with NLTK tags; the same words are marked here for
    these expressions). Given to both sides, they are data, not part of the comparison."""
    from mmseg.registry import MODELS
    enc = MODELS.build(dict(cfg.model.text_encoder, name_or_path=tok_dir, pretrained=False,
                            model_config=dict(intermediate_size=BERT['intermediate_size'])))
    return enc.decouple(list(texts))


def official_dice(pred: torch.Tensor, target: torch.Tensor, smooth: float = 1e-6):
    """RMSIN's ``loss/loss.py`` ``DiceLoss`` (as written there, re-stated): softmax over the
    classes, one-hot target, per sample and class ``1 - (2 I + s) / (P + T + s)``, summed."""
    prob = pred.softmax(1)
    onehot = torch.stack([(target == c).to(prob) for c in range(pred.shape[1])], 1)
    inter = (prob * onehot).sum((2, 3))
    union = (prob + onehot).sum((2, 3))
    return (1 - (2 * inter + smooth) / (union + smooth)).sum()


# ------------------------------------------------------------------------------ mmrrsis side
def small_paper_cfg(config: str, tok_dir: str, lr: float, model: str = 'lavt'):
    """The paper config at the small widths of the check (everything else as configured)."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.model.text_encoder.update(name_or_path=tok_dir, pretrained=False,
                                  model_config=dict(intermediate_size=BERT['intermediate_size'],
                                                    hidden_dropout_prob=0.0,
                                                    attention_probs_dropout_prob=0.0))
    if model in ('rmsin', 'fianet'):  # Swin-B widths; RMSIN's routing dropout off
        cfg.model.backbone.update(embed_dims=EMBED, depths=DEPTHS, num_heads=HEADS,
                                  window_size=WINDOW, pretrain_img_size=SIZE,
                                  drop_path_rate=0.0, init_cfg=None)
        if model == 'rmsin':
            cfg.model.decode_head.routing_dropout = 0.0
        cfg.model.data_preprocessor.size = (SIZE, SIZE)
        cfg.optim_wrapper.optimizer.lr = lr
        return cfg
    cfg.model.backbone.update(embed_dims=EMBED, depths=DEPTHS, num_heads=HEADS,
                              window_size=WINDOW, pretrain_img_size=SIZE, drop_path_rate=0.0,
                              init_cfg=None)
    cfg.model.decode_head.update(in_channels=[EMBED * 2**i for i in range(4)],
                                 channels=4 * EMBED)
    cfg.model.data_preprocessor.size = (SIZE, SIZE)
    cfg.optim_wrapper.optimizer.lr = lr
    return cfg


def _samples(batch):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    inputs, samples = [], []
    for img, target, text in zip(batch['imgs'], batch['targets'], batch['texts']):
        inputs.append(torch.from_numpy(np.ascontiguousarray(img[..., ::-1])).permute(2, 0, 1))
        s = SegDataSample(metainfo=dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE),
                                        pad_shape=(SIZE, SIZE), text=text))
        s.gt_sem_seg = PixelData(data=torch.from_numpy(target)[None])
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def run_mmrrsis(args) -> dict:
    sys.path.insert(0, osp.join(REPO, 'tools', 'model_converters'))
    import lavt2mmrrsis
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS, PARAM_SCHEDULERS

    from mmrrsis.utils import register_all_modules
    register_all_modules()
    with open(osp.join(args.work_dir, 'official.json')) as f:
        official = json.load(f)
    model_name = official.get('model', 'lavt')
    use_arch(model_name)
    if model_name == 'rmsin':
        import rmsin2mmrrsis

        def convert(model_state, bert_state):
            return rmsin2mmrrsis.convert_rmsin(model_state)
    elif model_name == 'fianet':
        import fianet2mmrrsis

        def convert(model_state, bert_state):
            return fianet2mmrrsis.convert_fianet(model_state)
    else:
        convert = lavt2mmrrsis.convert_lavt
    tok_dir = osp.join(args.work_dir, 'bert')
    cfg = small_paper_cfg(args.config, tok_dir, official['lr'], model_name)
    if args.attn == 'eager':
        cfg.model.attn_impl = 'eager'
        cfg.model.text_encoder.attn_implementation = 'eager'
    model = MODELS.build(cfg.model)
    if official['float64']:  # before loading: float32 parameters would round the weights
        model.double()
    init = torch.load(osp.join(args.work_dir, 'official_init.pth'), map_location='cpu')
    state, _, unmapped = convert(init['model'], init['bert_model'])
    assert not unmapped, unmapped
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    # the runner's conversion of an epoch-based scheduler (Runner.build_param_scheduler)
    (poly, ) = cfg.param_scheduler
    poly = dict(poly, end=official['epochs'])
    assert poly.pop('by_epoch') and poly.pop('convert_to_iter_based')
    scheduler = PARAM_SCHEDULERS.get(poly.pop('type')).build_iter_from_epoch(
        wrapper, epoch_length=official['iters_per_epoch'], **poly)
    losses, lrs = [], []
    for batch in make_batches(official['seed'], official['steps']):
        model.train()
        lrs.append(wrapper.get_lr()['lr'][0])
        if official['float64']:  # BaseModel.train_step, with the batch cast to float64
            with wrapper.optim_context(model):
                data = model.data_preprocessor(_samples(batch), True)
                # the official normalisation in float64 (MMSeg's preprocessor rounds the
                # normalised image to float32: a 1e-7 difference of the inputs)
                data['inputs'] = ((torch.from_numpy(batch['imgs']).permute(0, 3, 1, 2).double()
                                   / 255. - torch.tensor(MEAN).double()[:, None, None])
                                  / torch.tensor(STD).double()[:, None, None])
                losses_ = model._run_forward(data, mode='loss')
            loss, log_vars = model.parse_losses(losses_)
            wrapper.backward(loss)
            if not losses:
                first_grads = {k: p.grad.clone() for k, p in model.named_parameters()
                               if p.grad is not None}
            wrapper.step()
            wrapper.zero_grad()
        else:
            if not losses:  # keep the first step's gradients (BaseModel.train_step's step)
                grads_hook = wrapper.step
                first_grads = {}

                def step_and_keep(**kwargs):
                    first_grads.update({k: p.grad.clone() for k, p in model.named_parameters()
                                        if p.grad is not None})
                    wrapper.step = grads_hook
                    grads_hook(**kwargs)

                wrapper.step = step_and_keep
            log_vars = model.train_step(_samples(batch), wrapper)
        losses.append(float(log_vars['loss']))
        scheduler.step()
    final = torch.load(osp.join(args.work_dir, 'official_final.pth'), map_location='cpu')
    expected, _, _ = convert(final['model'], final['bert_model'])
    params = compare_params(expected, model.state_dict(), dict(state))
    # first-step gradients, tensor by tensor (relative L2 error; structural zeros left out)
    off_grads = torch.load(osp.join(args.work_dir, 'official_grads.pth'), map_location='cpu')
    conv_grads = _convert_grads(convert, off_grads, init)
    grad_err = {k: ((first_grads[k].double() - g.double()).norm() / g.double().norm()).item()
                for k, g in conv_grads.items()
                if k in first_grads and not _structural(k) and g.double().norm() > 0}
    worst_grad = max(grad_err, key=grad_err.get)
    result = dict(
        config=osp.relpath(args.config, REPO), steps=official['steps'], lr=official['lr'],
        attn=args.attn, float64=official['float64'],
        official_losses=official['losses'], mmrrsis_losses=losses,
        loss_max_rel_diff=max(abs(a - b) / abs(a) for a, b in zip(official['losses'], losses)),
        official_lrs=official['lrs'], mmrrsis_lrs=lrs,
        lr_max_rel_diff=max(abs(a - b) / a for a, b in zip(official['lrs'], lrs)),
        grad_rel_err_max=grad_err[worst_grad], grad_worst_tensor=worst_grad,
        grad_rel_err_median=float(np.median(list(grad_err.values()))),
        grad_worst_10={k: grad_err[k] for k in sorted(grad_err, key=grad_err.get)[-10:]},
        **params)
    if args.noise_dir:  # the official code against itself (e.g. another thread count)
        other = torch.load(osp.join(args.noise_dir, 'official_final.pth'), map_location='cpu')
        with open(osp.join(args.noise_dir, 'official.json')) as f:
            other_losses = json.load(f)['losses']
        other_state, _, _ = convert(other['model'], other['bert_model'])
        noise = compare_params(expected, other_state, dict(state))
        noise['loss_max_rel_diff'] = max(abs(a - b) / abs(a)
                                         for a, b in zip(official['losses'], other_losses))
        result['official_vs_official'] = noise
    print(json.dumps(result, indent=1))
    with open(osp.join(args.work_dir, 'result.json'), 'w') as f:
        json.dump(result, f, indent=1)
    with open(osp.join(args.work_dir, 'grad_errors.json'), 'w') as f:  # every tensor
        json.dump(grad_err, f, indent=0)
    return result


def _convert_grads(convert, grads: dict, init: dict) -> dict:
    """The official first-step gradients in mmrrsis names (tensors without a gradient and
    buffers as zeros, for converters that need every tensor; left out of the result)."""
    full = {}
    for part in ('model', 'bert_model'):
        full[part] = {k: (grads[part].get(k) if grads[part].get(k) is not None
                          else torch.zeros_like(v)) for k, v in init[part].items()}
    converted, _, _ = convert(full['model'], full['bert_model'])
    return {k: v for k, v in converted.items() if v.is_floating_point() and v.norm() > 0
            and not k.endswith(('running_mean', 'running_var'))}


def _structural(key: str) -> bool:
    """Parameters whose gradient is zero in exact arithmetic (PWAM biases before an
    InstanceNorm or a softmax, BERT key biases; for RMSIN also CIM's biases before train-mode
    BatchNorms, the stage-output norm shifts that reach only CIM, RepBlock's one-channel convs;
    ``mmrrsis.testing.gradients``): float-rounding gradients on both sides, which AdamW
    normalises into steps of up to +-lr; compared separately."""
    import re

    from mmrrsis.testing import STRUCTURAL_ZEROS
    patterns = list(STRUCTURAL_ZEROS) + list(_EXTRA_ZEROS)
    return any(re.fullmatch(p, key) for p in patterns)


#: Model-specific structural zeros (set by ``use_arch``).
_EXTRA_ZEROS: list = []


def compare_params(expected: dict, got: dict, start: dict) -> dict:
    """Largest parameter difference after the steps and the relative error of each tensor's
    update (``||got - expected|| / ||expected - start||``), structural zeros apart."""
    diffs, moved, update_err = {}, {}, {}
    for key, value in expected.items():
        if not value.is_floating_point() or key.endswith('num_batches_tracked'):
            continue
        diffs[key] = (got[key].double() - value.double()).abs().max().item()
        step = value.double() - start[key].double()
        moved[key] = step.abs().max().item()
        if step.norm() > 0:
            update_err[key] = ((got[key].double() - value.double()).norm() / step.norm()).item()
    structural = {k for k in diffs if _structural(k)}
    rest = {k: v for k, v in diffs.items() if k not in structural}
    errs = [update_err[k] for k in rest if k in update_err]
    worst = max(rest, key=rest.get)
    return dict(
        num_tensors=len(rest), tensors_moved=sum(moved[k] > 0 for k in rest),
        param_max_abs_diff=rest[worst], worst_tensor=worst,
        param_max_step_change=max(moved[k] for k in rest),
        update_rel_err_max=max(errs), update_rel_err_median=float(np.median(errs)),
        num_structural_zero_tensors=len(structural),
        structural_zero_max_abs_diff=max((diffs[k] for k in structural), default=0.0))


def main(argv=None) -> None:
    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    official_json = osp.join(args.work_dir, 'official.json')
    if args.side == 'mmrrsis' and osp.isfile(official_json):
        with open(official_json) as f:  # the model the official side ran
            args.model = json.load(f).get('model', 'lavt')
    use_arch(args.model)
    args.config = args.config or osp.join(REPO, MODEL_CONFIGS[args.model])
    if args.side == 'official':
        if not args.official_root or not osp.isdir(osp.join(args.official_root, 'lib')):
            raise SystemExit('--official-root must be a checkout of the official repository '
                             '(with lib/)')
        run_official(args)
    else:
        if not osp.isfile(osp.join(args.work_dir, 'official.json')):
            raise SystemExit(f'run --side official first: {args.work_dir}/official.json missing')
        run_mmrrsis(args)


if __name__ == '__main__':
    main()
