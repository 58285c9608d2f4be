# Copyright (c) mmrrsis contributors. All rights reserved.
import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mmrrsis.apis import RRSISInferencer
from mmrrsis.testing import make_tiny_bert, tiny_segmentor_cfg


@pytest.fixture(scope='module')
def tiny_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('infer')
    text_dir = make_tiny_bert(str(root / 'bert'))
    pipeline = [
        dict(type='LoadRRSISImageFromFile'),
        dict(type='LoadRRSISAnnotations'),
        dict(type='Resize', scale=(64, 64), keep_ratio=False, backend='pillow'),
        dict(type='SetOriShapeToImgShape'),
        dict(type='PackRRSISInputs'),
    ]
    cfg = Config(dict(
        default_scope='mmseg', model=tiny_segmentor_cfg(text_dir),
        test_dataloader=dict(dataset=dict(type='RefSegRSDataset', pipeline=pipeline))))
    cfg.model.test_cfg = dict(mode='whole', eval_at_input_res=True)
    # a checkpoint in the Runner's layout
    inf = RRSISInferencer(cfg)
    ckpt = str(root / 'model.pth')
    torch.save(dict(meta=dict(iter=1), state_dict=inf.model.state_dict()), ckpt)
    img = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    Image.fromarray(img).save(root / 'img.png')
    return cfg, ckpt, str(root / 'img.png'), img, inf


def test_inferencer_masks_at_original_size(tiny_setup, tmp_path):
    cfg, ckpt, img_path, img, ref = tiny_setup
    inf = RRSISInferencer(cfg, ckpt)
    for name, p in inf.model.state_dict().items():
        assert torch.equal(p, ref.model.state_dict()[name]), name
    out = inf([img_path, img[..., ::-1].copy()], 'the red car on the left', batch_size=2,
              out_dir=str(tmp_path / 'vis'), return_vis=True)
    assert len(out['masks']) == 2
    for m, s in zip(out['masks'], out['scores']):
        assert m.shape == (50, 70) and m.dtype == np.uint8 and set(np.unique(m)) <= {0, 1}
        np.testing.assert_array_equal(m, (s > 0.5).astype(np.uint8) | (m & (s == 0.5)))
    # the same image as a file (RGB) and as a BGR array gives the same mask
    np.testing.assert_array_equal(out['masks'][0], out['masks'][1])
    assert (tmp_path / 'vis' / '0.png').exists()
    assert out['visualization'][0].shape[1] >= 70


def test_inferencer_pairs_and_errors(tiny_setup):
    cfg, ckpt, img_path, _, _ = tiny_setup
    inf = RRSISInferencer(cfg, ckpt)
    out = inf(img_path, ['the red car', 'the white building', ''])
    assert len(out['masks']) == 3
    with pytest.raises(ValueError, match='2 images but 3 expressions'):
        inf([img_path, img_path], ['a', 'b', 'c'])
    with pytest.raises(TypeError, match='str'):
        inf(img_path, [3])
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        RRSISInferencer(cfg, 'nope.pth')
    with pytest.raises(FileNotFoundError, match='missing.png'):
        inf('missing.png', 'a car')


def test_concurrent_slide_inference_equals_sequential(tiny_setup):
    """One inferencer called from several threads gives the sequential answers: in sliding-
    window mode every crop reads the text of its own request (the text encoded once per
    forward was shared on the model instance, and other threads' crops read it)."""
    from concurrent.futures import ThreadPoolExecutor

    cfg, ckpt, _, _, _ = tiny_setup
    cfg = copy.deepcopy(cfg)
    cfg.model.test_cfg = dict(mode='slide', crop_size=(64, 64), stride=(32, 32),
                              eval_at_input_res=True)
    for t in cfg.test_dataloader.dataset.pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (128, 96)  # 3 x 2 windows
    inf = RRSISInferencer(cfg, ckpt)
    rng = np.random.default_rng(1)
    texts = ['the red car', 'a white tank on the left', 'the building at the top right',
             'ship', 'two planes', 'the road in the middle', 'the green field', 'a bridge']
    jobs = [(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8), texts[i % len(texts)])
            for i in range(16)]
    # a model whose prediction depends strongly on the text (random tiny weights barely do)
    with torch.no_grad():
        for p in inf.model.backbone.parameters():
            p.mul_(3)
    sequential = [inf(img, text)['scores'][0] for img, text in jobs]
    assert len({s.tobytes() for s in sequential}) > 1
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda job: inf(job[0], job[1])['scores'][0], jobs * 2))
    for i, scores in enumerate(threaded):
        np.testing.assert_allclose(scores, sequential[i % len(jobs)], atol=1e-5, rtol=0,
                                   err_msg=f'request {i}')


@pytest.mark.slow
def test_huge_image_and_expression_within_the_memory_bound(tiny_setup, tmp_path):
    """An 8000x8000 image and a 100,000-character expression: the network sees the config's
    input size, the mask comes back at 8000x8000, and the process stays within the bound the
    docs state (docs/en/inference.md: about 16 bytes per original pixel plus the model)."""
    import json
    import subprocess
    import sys
    cfg, ckpt, _, _, _ = tiny_setup
    cfg_path = tmp_path / 'cfg.py'
    cfg.dump(str(cfg_path))
    script = f'''
import json, resource, numpy as np, time
from mmengine.config import Config
from mmrrsis.apis import RRSISInferencer
inf = RRSISInferencer(Config.fromfile({str(cfg_path)!r}), {ckpt!r})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
img = np.random.default_rng(0).integers(0, 256, (8000, 8000, 3), dtype=np.uint8)
t = time.time()
out = inf(img, 'the tank ' + 'x' * 100000)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(dict(shape=out['masks'][0].shape, seconds=time.time() - t,
                      extra_mb=(peak - before) / 1024)))
'''
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          timeout=600, env=dict(__import__('os').environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert tuple(result['shape']) == (8000, 8000)
    # the image itself is 192 MB; the bound: 16 bytes per pixel (1.0 GB) on top of it
    print(result)
    assert result['extra_mb'] < 16 * 8000 * 8000 / 2**20, result
