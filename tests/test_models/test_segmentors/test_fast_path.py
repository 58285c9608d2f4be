# Copyright (c) mmrrsis contributors. All rights reserved.
"""The fast path of every model agrees with its float32 eager path (no timing here: the
benchmark tool measures, tests check numbers)."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from mmrrsis.models.layers import SwitchableWindowMSA
from mmrrsis.testing import make_tiny_bert, tiny_segmentor_cfg

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
SYNTH = ['lavt/lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py',
         'fianet/fianet_swin-tiny_minilm_1xb16-2k_synth-128x128.py',
         'lgce/lgce_swin-tiny_minilm_1xb16-2k_synth-128x128.py',
         'rmsin/rmsin_swin-tiny_minilm_1xb16-2k_synth-128x128.py',
         'btdnet/btdnet_swin-tiny_minilm_1xb16-2k_synth-128x128.py']


pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def tiny_text(tmp_path_factory):
    return make_tiny_bert(str(tmp_path_factory.mktemp('tiny_bert')))


def _batch(n=2, size=(64, 64)):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(0)
    texts = ['the small red car on the left', 'the storage tank near the road']
    inputs, samples = [], []
    for i in range(n):
        inputs.append(torch.randint(0, 256, (3, *size), dtype=torch.uint8, generator=g))
        s = SegDataSample(metainfo=dict(img_shape=size, ori_shape=size, pad_shape=size,
                                        text=texts[i % 2], category='vehicle'))
        gt = torch.zeros(1, *size, dtype=torch.long)
        gt[:, 10:30, 20:40] = 1
        s.gt_sem_seg = PixelData(data=gt)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def _pair(cfg, **fast):
    """An eager float32 model and a fast one with the same weights."""
    torch.manual_seed(0)
    eager = MODELS.build(copy.deepcopy(cfg))
    eager.init_weights()
    fast_cfg = copy.deepcopy(cfg)
    fast_cfg.update(fast)
    fast_model = MODELS.build(fast_cfg)
    fast_model.load_state_dict(eager.state_dict())
    return eager, fast_model


def _logits(model, data):
    model.eval()
    with torch.no_grad():
        return model.inference(data['inputs'], [s.metainfo for s in data['data_samples']])


def _grad_vector(model, data):
    model.train()
    model.zero_grad()
    torch.manual_seed(0)
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_sdpa_segmentor_matches_eager(tiny_text):
    cfg = tiny_segmentor_cfg(tiny_text)
    cfg.backbone.depths = [2, 2, 2, 2]  # shifted windows too
    cfg.text_encoder.attn_implementation = 'eager'
    eager, fast = _pair(cfg, attn_impl='sdpa')
    fast_text = copy.deepcopy(cfg.text_encoder)
    fast_text.attn_implementation = 'sdpa'
    fast.text_encoder = MODELS.build(fast_text)
    fast.text_encoder.load_state_dict(eager.text_encoder.state_dict())
    assert sum(isinstance(m, SwitchableWindowMSA) and m.attn_impl == 'sdpa'
               for m in fast.modules()) == 8
    assert fast.backbone.pwams['0'].image_lang_att.attn_impl == 'sdpa'
    assert eager.backbone.pwams['0'].image_lang_att.attn_impl == 'eager'
    assert list(fast.state_dict()) == list(eager.state_dict())  # checkpoints load either way
    data = eager.data_preprocessor(_batch(n=2), True)
    ref = _logits(eager, data)
    out = _logits(fast, data)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    g_ref, g_fast = _grad_vector(eager, data), _grad_vector(fast, data)
    assert set(g_ref) == set(g_fast)
    a = torch.cat([g.flatten() for g in g_ref.values()]).double()
    b = torch.cat([g_fast[n].flatten() for n in g_ref]).double()
    assert torch.nn.functional.cosine_similarity(a, b, dim=0) > 0.99999


def test_inference_autocast_returns_float32_close_logits(tiny_text):
    cfg = tiny_segmentor_cfg(tiny_text)
    eager, fast = _pair(cfg, test_cfg=dict(mode='whole', autocast='bfloat16'))
    data = eager.data_preprocessor(_batch(n=2), False)
    ref, low = _logits(eager, data), _logits(fast, data)
    assert low.dtype == torch.float32 and low.shape == ref.shape
    assert not torch.equal(low, ref)  # it did run in bfloat16
    cos = torch.nn.functional.cosine_similarity(low.flatten(), ref.flatten(), dim=0)
    assert cos > 0.99
    with pytest.raises(ValueError, match='test_cfg.autocast'):
        MODELS.build(dict(cfg, test_cfg=dict(mode='whole', autocast='int8')))
    with pytest.raises(ValueError, match='attn_impl must be one of'):
        MODELS.build(dict(cfg, attn_impl='flash'))


def test_text_encoder_attn_implementation(tiny_text):
    from mmrrsis.models.text_encoders import HFTextEncoder
    eager = HFTextEncoder(tiny_text, max_tokens=12, attn_implementation='eager')
    fast = HFTextEncoder(tiny_text, max_tokens=12, attn_implementation='sdpa')
    eager.init_weights()
    fast.load_state_dict(eager.state_dict())
    assert eager.model.config._attn_implementation == 'eager'
    assert fast.model.config._attn_implementation == 'sdpa'
    texts = ['the red car', 'a long expression about the storage tank on the left']
    eager.eval()
    fast.eval()
    (fe, me), (ff, mf) = eager(texts), fast(texts)
    assert torch.equal(me, mf)
    torch.testing.assert_close(ff, fe, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match='attn_implementation'):
        HFTextEncoder(tiny_text, attn_implementation='flash')


@pytest.mark.parametrize('config', SYNTH)
def test_every_model_sdpa_matches_eager(config):
    """Each model family (LAVT, FIANet's OPAB/TMEM, LGCE, RMSIN's CIM, BTDNet) on its own
    synthetic config: the fused path gives the eager logits."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', config)).model
    cfg.text_encoder.update(pretrained=False, attn_implementation='eager')
    cfg.text_encoder.model_config = dict(num_hidden_layers=1)
    cfg.text_encoder.pop('cache_size', None)
    cfg.text_encoder.update(frozen=False, trainable_layers=None)
    cfg.pop('attn_impl', None)
    eager, fast = _pair(cfg, attn_impl='sdpa')
    switched = [m for m in fast.modules()
                if isinstance(getattr(type(m), 'attn_impl', None), str)]
    assert switched and all(m.attn_impl == 'sdpa' for m in switched)
    data = eager.data_preprocessor(_batch(n=2, size=(128, 128)), False)
    torch.testing.assert_close(_logits(fast, data), _logits(eager, data), atol=1e-4, rtol=1e-4)


def test_compiled_forward_gives_the_same_losses_and_gradients(tiny_text):
    """``compile=True`` (MMEngine's runner switch) traces the model: the dynamo graph of the
    loss forward (with graph breaks at the tokenizer) gives the eager losses and gradients.
    The AOT-eager backend checks the tracing quickly; the inductor backend compiles the tiny
    backbone in about 95 s on 2 cores to the same outputs (max difference 1.2e-5, see
    docs/en/benchmark.md), too slow for this suite."""
    cfg = tiny_segmentor_cfg(tiny_text)
    cfg.attn_impl = 'sdpa'
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    for m in model.modules():  # no random draws: the traced graph draws its own
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    model.train()
    data = model.data_preprocessor(_batch(n=2), True)
    ref = _grad_vector(model, data)
    ref_loss = model(**data, mode='loss')
    torch._dynamo.reset()
    compiled = torch.compile(model.forward, backend='aot_eager')
    model.zero_grad()
    torch.manual_seed(0)
    losses = compiled(**data, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert set(losses) == set(ref_loss)
    for k in ref_loss:
        if 'loss' in k:  # (acc_seg counts argmax pixels: a tie may flip)
            torch.testing.assert_close(losses[k], ref_loss[k], atol=1e-5, rtol=1e-5)
    got = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert set(got) == set(ref)
    a = torch.cat([ref[n].flatten() for n in ref]).double()
    b = torch.cat([got[n].flatten() for n in ref]).double()
    # (the biases before batch norms have gradients of pure rounding noise: compare the whole)
    assert torch.nn.functional.cosine_similarity(a, b, dim=0) > 0.99999
    torch._dynamo.reset()
