# Copyright (c) mmrrsis contributors. All rights reserved.
import numpy as np
import pytest
from mmseg.registry import TRANSFORMS
from PIL import Image

from mmrrsis.datasets.transforms import RandomBlackBoxes, RandomTextFlip
from mmrrsis.utils.text import match_category, swap_spatial_words


@pytest.mark.parametrize('src,direction,expected', [
    ('the car on the left of the right building', 'horizontal',
     'the car on the right of the left building'),
    ('Left tank, RIGHT road', 'horizontal', 'Right tank, LEFT road'),
    ('the bright upright leftover roof', 'horizontal', 'the bright upright leftover roof'),
    ('the leftmost ship west of the dam', 'horizontal', 'the rightmost ship east of the dam'),
    ('the top car above the lower road', 'vertical', 'the bottom car below the upper road'),
    ('North tank south of the Top bridge', 'vertical', 'South tank north of the Bottom bridge'),
    ('the upper left plane', 'diagonal', 'the lower right plane'),
    ('stop the topology', 'vertical', 'stop the topology'),
])
def test_swap_spatial_words(src, direction, expected):
    assert swap_spatial_words(src, direction) == expected
    # swapping twice restores the sentence
    assert swap_spatial_words(expected, direction) == src


def test_swap_unknown_direction():
    with pytest.raises(ValueError, match='Unknown flip direction'):
        swap_spatial_words('left', 'sideways')


def test_random_text_flip_flips_image_mask_and_text():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    mask = np.array([[1, 0, 0], [1, 1, 0]], np.uint8)
    t = RandomTextFlip(prob=1.0, direction='horizontal')
    out = t(dict(img=img.copy(), gt_seg_map=mask.copy(), text='the left car', img_shape=(2, 3),
                 seg_fields=['gt_seg_map']))
    np.testing.assert_array_equal(out['img'], img[:, ::-1])
    np.testing.assert_array_equal(out['gt_seg_map'], mask[:, ::-1])
    assert out['text'] == 'the right car' and out['flip_direction'] == 'horizontal'
    out = RandomTextFlip(prob=0.0)(dict(img=img.copy(), text='the left car', img_shape=(2, 3)))
    assert out['text'] == 'the left car' and not out['flip']


def test_pillow_resize_matches_reference():
    """mmcv Resize(backend='pillow') == torchvision-era F.resize on a PIL image."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (50, 40, 3), dtype=np.uint8)
    mask = (rng.random((50, 40)) > 0.5).astype(np.uint8)
    resize = TRANSFORMS.build(dict(type='Resize', scale=(48, 48), keep_ratio=False,
                                   backend='pillow', interpolation='bilinear'))
    out = resize(dict(img=img.copy(), gt_seg_map=mask.copy(), seg_fields=['gt_seg_map'],
                      img_shape=(50, 40)))
    ref_img = np.asarray(Image.fromarray(img).resize((48, 48), Image.BILINEAR))
    ref_mask = np.asarray(Image.fromarray(mask).resize((48, 48), Image.NEAREST))
    np.testing.assert_array_equal(out['img'], ref_img)
    np.testing.assert_array_equal(out['gt_seg_map'], ref_mask)


def test_paper_protocol_test_pipeline_and_packing(tmp_path):
    img = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / '1.tif')
    mask = np.zeros((40, 50), np.uint8)
    mask[5:20, 10:30] = 255
    Image.fromarray(mask).save(tmp_path / 'm1.tif')
    pipeline = [TRANSFORMS.build(c) for c in [
        dict(type='LoadRRSISImageFromFile'),
        dict(type='LoadRRSISAnnotations'),
        dict(type='Resize', scale=(32, 32), keep_ratio=False, backend='pillow'),
        dict(type='SetOriShapeToImgShape'),
        dict(type='PackRRSISInputs'),
    ]]
    results = dict(img_path=str(tmp_path / '1.tif'), seg_map_path=str(tmp_path / 'm1.tif'),
                   text='the roof', ref_id='1', sent_id='1', category=None, seg_fields=[],
                   reduce_zero_label=False)
    for t in pipeline:
        results = t(results)
    sample = results['data_samples']
    assert results['inputs'].shape == (3, 32, 32)
    assert sample.ori_shape == (32, 32) and sample.img_shape == (32, 32)
    assert sample.text == 'the roof' and sample.ref_id == '1' and sample.category is None
    gt = sample.gt_sem_seg.data
    assert gt.shape == (1, 32, 32)
    ref = np.asarray(Image.fromarray((mask > 50).astype(np.uint8)).resize((32, 32), Image.NEAREST))
    np.testing.assert_array_equal(gt[0].numpy(), ref)


def test_pack_requires_text():
    t = TRANSFORMS.build(dict(type='PackRRSISInputs'))
    with pytest.raises(KeyError, match="no 'text'"):
        t(dict(img=np.zeros((4, 4, 3), np.uint8), img_path='x.tif'))


def test_random_black_boxes_fixed_share():
    t = RandomBlackBoxes(ref_fraction=0.2, num_boxes=(3, 5), box_size=4, seed=1)
    chosen = [r for r in range(2000) if t.is_selected(r)]
    assert 0.17 < len(chosen) / 2000 < 0.23
    img = np.full((32, 32, 3), 200, np.uint8)
    out = t(dict(img=img.copy(), ref_id=chosen[0]))
    assert (out['img'] == 0).all(axis=2).sum() >= 16  # at least one 4x4 box
    other = next(r for r in range(2000) if not t.is_selected(r))
    np.testing.assert_array_equal(t(dict(img=img.copy(), ref_id=other))['img'], img)


def test_match_category():
    cats = ['road', 'road marking', 'car', 'storage tank', 'low vegetation']
    assert match_category('the road marking near the car', cats) == 'road marking'
    assert match_category('two cars on the road', cats) == 'car'
    assert match_category('the scarlet storage  tanks', cats) == 'storage tank'
    assert match_category('a carpet of grass', cats) is None
    # a mapping: synonyms stand for their category; plural and case are handled as for names
    aliases = {'pond': ('pond', 'lake'), 'storage tank': ('storage tank', 'oil tank', 'tank')}
    assert match_category('the Lakes above the field', aliases) == 'pond'
    assert match_category('grey oil tank near the pond', aliases) == 'storage tank'
    assert match_category('the tank', aliases) == 'storage tank'
    assert match_category('a lakeside', aliases) is None
