# Copyright (c) mmrrsis contributors. All rights reserved.
import json
import os
import pickle
from collections import defaultdict

import numpy as np
import pytest
from PIL import Image

from mmrrsis.datasets import RefSegRSDataset, RRSISDDataset
from mmrrsis.datasets.synthetic import (CATEGORIES, META_FILE, SAMPLES_FILE, _Describer, _Obj,
                                        _Scene, generate_synthetic_dataset,
                                        load_synthetic_meta)

SPLITS = ('train', 'val', 'test')
KW = dict(num_images=20, image_size=64, formats=('refsegrs', 'rrsisd'), progress=False)


@pytest.fixture(scope='module')
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic')
    a = generate_synthetic_dataset(str(root / 'a'), seed=0, **KW)
    b = generate_synthetic_dataset(str(root / 'b'), seed=0, **KW)
    c = generate_synthetic_dataset(str(root / 'c'), seed=1, **KW)
    return root, a, b, c


def _lines(root, split):
    text = (root / f'output_phrase_{split}.txt').read_text()
    return [line.split(' ', 1) for line in text.splitlines()]


def _all_ids(root):
    return [sid for s in SPLITS for sid, _ in _lines(root, s)]


def test_same_seed_same_bytes(sets):
    root, a, b, _ = sets
    assert a['num_samples'] == b['num_samples'] > 20
    ids = _all_ids(root / 'a')
    files = [f'output_phrase_{s}.txt' for s in SPLITS] + [
        META_FILE, SAMPLES_FILE, 'rrsisd/refs(unc).p', 'rrsisd/instances.json'
    ]
    for sid in ids[::7]:
        files += [f'images/{sid}.tif', f'masks/{sid}.tif',
                  f'images/rrsisd/JPEGImages/{int(sid):05d}.jpg']
    for f in files:
        assert (root / 'a' / f).read_bytes() == (root / 'b' / f).read_bytes(), f


def test_other_seed_differs(sets):
    root, a, _, c = sets
    assert (root / 'a' / 'output_phrase_train.txt').read_bytes() != \
        (root / 'c' / 'output_phrase_train.txt').read_bytes()
    assert (root / 'a' / 'images' / '0.tif').read_bytes() != \
        (root / 'c' / 'images' / '0.tif').read_bytes()


def test_refsegrs_files(sets):
    root = sets[0] / 'a'
    meta = load_synthetic_meta(str(root))
    assert meta is not None and meta['params']['seed'] == 0
    total = 0
    for split in SPLITS:
        lines = _lines(root, split)
        assert lines, f'empty split {split}'
        assert meta['split_samples'][split] == len(lines)
        total += len(lines)
        for sid, text in lines:
            assert text.strip() and text == ' '.join(text.split())
            with Image.open(root / 'images' / f'{sid}.tif') as im:
                assert im.mode == 'RGB' and im.size == (64, 64)
            with Image.open(root / 'masks' / f'{sid}.tif') as m:
                assert m.mode == 'L' and m.size == (64, 64)
                mask = np.asarray(m)
            assert set(np.unique(mask)) == {0, 255}
    assert total == meta['num_samples']
    ids = _all_ids(root)
    assert len(ids) == len(set(ids))


def test_scene_has_several_targets(sets):
    """The same picture appears with different expressions and different masks."""
    root = sets[0] / 'a'
    records = json.loads((root / SAMPLES_FILE).read_text())
    by_scene = defaultdict(list)
    for r in records:
        by_scene[r['scene']].append(r)
    assert max(len(v) for v in by_scene.values()) >= 3
    assert all(r['category'] in CATEGORIES for r in records)
    for recs in by_scene.values():
        assert len({r['split'] for r in recs}) == 1  # scenes never straddle splits
        assert len({r['text'] for r in recs}) == len(recs)
        masks = [np.asarray(Image.open(root / 'masks' / f'{r["id"]}.tif')) for r in recs]
        imgs = {(root / 'images' / f'{r["id"]}.tif').read_bytes() for r in recs}
        assert len(imgs) == 1
        for i in range(len(masks)):
            for j in range(i + 1, len(masks)):
                assert not np.array_equal(masks[i], masks[j])


def test_rrsisd_files(sets):
    from pycocotools import mask as mask_utils
    root = sets[0] / 'a'
    with open(root / 'rrsisd' / 'refs(unc).p', 'rb') as f:
        refs = pickle.load(f)
    inst = json.loads((root / 'rrsisd' / 'instances.json').read_text())
    cats = {c['id']: c['name'] for c in inst['categories']}
    assert list(cats.values()) == list(CATEGORIES)
    anns = {a['id']: a for a in inst['annotations']}
    imgs = {i['id']: i for i in inst['images']}
    lines = {sid: (split, text) for split in SPLITS for sid, text in _lines(root, split)}
    assert len(refs) == len(lines) == len(anns) == len(imgs)
    for ref in refs:
        ann, img = anns[ref['ann_id']], imgs[ref['image_id']]
        assert ref['ref_id'] == ref['image_id'] == ref['ann_id'] == ref['sent_ids'][0]
        assert 'category_id' not in ann and ann['categories_id'] == ref['category_id']
        assert ref['category_id'] in cats
        assert img['file_name'] == ref['file_name'] == f'{ref["ref_id"]:05d}.jpg'
        with Image.open(root / 'images' / 'rrsisd' / 'JPEGImages' / ref['file_name']) as im:
            assert im.mode == 'RGB' and im.size == (img['width'], img['height'])
        (sent, ), rle = ref['sentences'], ann['segmentation'][0]
        assert isinstance(rle['counts'], str)
        split, text = lines[str(ref['ref_id'])]
        assert ref['split'] == split and sent['raw'] == sent['sent'] == text
        assert sent['tokens'] == text.lower().split()
        mask = mask_utils.decode(dict(rle, counts=rle['counts'].encode()))
        ref_mask = np.asarray(Image.open(root / 'masks' / f'{ref["ref_id"]}.tif')) > 50
        assert np.array_equal(mask.astype(bool), ref_mask)
        assert ann['area'] == int(ref_mask.sum())


def test_dataset_classes_read_it(sets):
    root = sets[0] / 'a'
    meta = load_synthetic_meta(str(root))
    for split in SPLITS:
        n = meta['split_samples'][split]
        ds = RefSegRSDataset(data_root=str(root), split=split, pipeline=[])
        assert len(ds) == n
        ds = RRSISDDataset(data_root=str(root), split=split, pipeline=[])
        assert len(ds) == n
        assert ds[0]['category'] in CATEGORIES


def test_reuse_overwrite_and_counts(tmp_path):
    out = str(tmp_path / 'd')
    kw = dict(image_size=48, samples_per_image=2, progress=False)
    first = generate_synthetic_dataset(out, split_ratio=(3, 1, 1), **kw)
    assert first['params']['split_images'] == dict(train=3, val=1, test=1)
    assert first['num_samples'] <= 10 and not first['reused']
    assert generate_synthetic_dataset(out, split_ratio=(3, 1, 1), **kw)['reused']
    with pytest.raises(FileExistsError):
        generate_synthetic_dataset(out, split_ratio=(3, 1, 1), seed=5, **kw)
    os.remove(os.path.join(out, META_FILE))  # an incomplete set is never reused
    with pytest.raises(FileExistsError):
        generate_synthetic_dataset(out, split_ratio=(3, 1, 1), **kw)
    again = generate_synthetic_dataset(out, split_ratio=(3, 1, 1), seed=5, overwrite=True, **kw)
    assert not again['reused'] and load_synthetic_meta(out)['params']['seed'] == 5
    with pytest.raises(ValueError):
        generate_synthetic_dataset(str(tmp_path / 'e'), formats=('coco', ), **kw)


def _vehicle(scene, colour, y0, x0):
    scene.paint(_Obj('vehicle', kind='car', colour=colour), y0, x0, np.ones((3, 6), bool),
                np.zeros((3, 6, 3), np.float32))


def test_expressions_are_unique_and_true():
    """Two red vehicles left/right and a blue one on the left: 'red' alone is not enough."""
    scene = _Scene(np.random.default_rng(0), 64)
    _vehicle(scene, 'red', 30, 5)  # target: left
    _vehicle(scene, 'red', 30, 50)  # right
    _vehicle(scene, 'blue', 10, 8)  # left, top
    scene.finalize()
    desc = _Describer(scene)
    target = scene.objects[0]
    options = desc.options(target)
    assert options
    kinds = {tuple(a.kind for a in combo) for combo in options}
    assert ('colour', ) not in kinds  # two red vehicles
    assert ('colour', 'position') in kinds
    for combo in options:
        phrases = {a.kind: a.phrase for a in combo}
        if 'position' in phrases:
            assert 'right' not in phrases['position'] and 'top' not in phrases['position']
    # the blue vehicle is the only blue one: colour alone suffices
    assert ('colour', ) in {tuple(a.kind for a in c) for c in desc.options(scene.objects[2])}


def test_first_category_word_is_the_target(sets):
    from mmrrsis.datasets.synthetic import CATEGORY_WORDS
    from mmrrsis.utils.text import match_category
    word_to_cat = {w: c for c, ws in CATEGORY_WORDS.items() for w in ws}
    records = json.loads((sets[0] / 'a' / SAMPLES_FILE).read_text())
    for r in records:
        assert word_to_cat[match_category(r['text'], list(word_to_cat))] == r['category']


def test_synth_hard(tmp_path):
    """synth-hard: deterministic, same format and checker, and harder in the stated ways."""
    from mmrrsis.datasets.checks import check_dataset
    kw = dict(num_images=40, image_size=128, formats=('refsegrs', ), progress=False)
    std = generate_synthetic_dataset(str(tmp_path / 'std'), seed=0, **kw)
    hard = generate_synthetic_dataset(str(tmp_path / 'hard'), seed=0, difficulty='hard', **kw)
    generate_synthetic_dataset(str(tmp_path / 'again'), seed=0, difficulty='hard', **kw)
    assert hard['params']['difficulty'] == 'hard' and 'difficulty' not in std['params']
    for f in ('output_phrase_train.txt', SAMPLES_FILE, 'images/0.tif', 'masks/0.tif'):
        assert (tmp_path / 'hard' / f).read_bytes() == (tmp_path / 'again' / f).read_bytes()
    report = check_dataset('refsegrs', str(tmp_path / 'hard'), splits=SPLITS)
    assert report['num_errors'] == 0
    ds = RefSegRSDataset(data_root=str(tmp_path / 'hard'), split='train', pipeline=[])
    assert len(ds) > 0 and ds[0]['text']

    def stats(name):
        recs = json.loads((tmp_path / name / SAMPLES_FILE).read_text())
        words = np.mean([len(r['text'].split()) for r in recs])
        small = np.mean([r['area'] < 0.01 * 128 * 128 for r in recs])
        return words, small, recs

    w_std, small_std, _ = stats('std')
    w_hard, small_hard, recs = stats('hard')
    assert w_hard > w_std + 1.5  # longer, compositional expressions
    assert small_hard > small_std and small_hard > 0.3  # many targets under 1 % of the image
    assert any(' and ' in r['text'] for r in recs)  # two relations
    img = np.asarray(Image.open(tmp_path / 'hard' / 'images' / '0.tif'), np.float32)
    ref = np.asarray(Image.open(tmp_path / 'std' / 'images' / '0.tif'), np.float32)
    # blurred, low-contrast: smaller neighbouring-pixel differences than the standard set
    assert np.abs(np.diff(img, axis=1)).mean() < 0.5 * np.abs(np.diff(ref, axis=1)).mean()
    with pytest.raises(ValueError, match='difficulty'):
        generate_synthetic_dataset(str(tmp_path / 'x'), difficulty='extreme', **kw)
