# Copyright (c) mmrrsis contributors. All rights reserved.
import numpy as np
import pytest
from PIL import Image

from mmrrsis.datasets import RefSegRSDataset
from mmrrsis.datasets.transforms import LoadRRSISAnnotations, load_refsegrs_mask


def _write_refsegrs(root, lines_by_split, size=(24, 32), final_newline=True):
    (root / 'images').mkdir(parents=True)
    (root / 'masks').mkdir()
    rng = np.random.default_rng(0)
    for split, lines in lines_by_split.items():
        text = '\n'.join(lines) + ('\n' if final_newline else '')
        (root / f'output_phrase_{split}.txt').write_text(text)
        for line in lines:
            sid = line.split(' ', 1)[0]
            img = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
            Image.fromarray(img).save(root / 'images' / f'{sid}.tif')
            # soft mask values around the threshold 50
            mask = np.zeros(size, np.uint8)
            mask[2:6, 3:9] = 255
            mask[10, 10] = 50  # not foreground (> 50 is)
            mask[11, 11] = 51  # foreground
            Image.fromarray(mask).save(root / 'masks' / f'{sid}.tif')


def test_refsegrs_reads_lines_exactly(tmp_path):
    _write_refsegrs(tmp_path, {
        'train': ['4213 van driving on the road', '945 impervious surface'],
        'test': ['3080 vehicle', '2339  building along the road  '],
    }, final_newline=False)
    ds = RefSegRSDataset(data_root=str(tmp_path), split='test', pipeline=[])
    assert len(ds) == 2
    first, last = ds[0], ds[1]
    assert first['text'] == 'vehicle'
    assert first['ref_id'] == first['sent_id'] == '3080'
    assert first['category'] is None
    assert first['img_path'] == str(tmp_path / 'images' / '3080.tif')
    assert first['seg_map_path'] == str(tmp_path / 'masks' / '3080.tif')
    # the last line has no final newline: its text is complete; inner spacing is kept verbatim
    assert last['text'] == ' building along the road  '
    train = RefSegRSDataset(data_root=str(tmp_path), split='train', pipeline=[])
    assert [d['text'] for d in train] == ['van driving on the road', 'impervious surface']


def test_refsegrs_mask_threshold_and_pipeline(tmp_path):
    _write_refsegrs(tmp_path, {'val': ['7 car']})
    mask = load_refsegrs_mask(str(tmp_path / 'masks' / '7.tif'))
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
    assert mask[10, 10] == 0 and mask[11, 11] == 1
    assert mask.sum() == 4 * 6 + 1
    ds = RefSegRSDataset(
        data_root=str(tmp_path), split='val',
        pipeline=[dict(type='LoadRRSISImageFromFile'), dict(type='LoadRRSISAnnotations')])
    out = ds[0]
    assert out['img'].shape == (24, 32, 3)
    np.testing.assert_array_equal(out['gt_seg_map'], mask)


def test_refsegrs_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='output_phrase_val.txt'):
        RefSegRSDataset(data_root=str(tmp_path), split='val')
    _write_refsegrs(tmp_path, {'val': ['1 a road', '2 a car']})
    (tmp_path / 'masks' / '1.tif').write_bytes(b'not a tiff at all')
    (tmp_path / 'images' / '2.tif').unlink()
    ds = RefSegRSDataset(
        data_root=str(tmp_path), split='val',
        pipeline=[dict(type='LoadRRSISImageFromFile'), dict(type='LoadRRSISAnnotations')])
    with pytest.raises(ValueError, match=r'1\.tif'):
        ds.prepare_data(0)
    with pytest.raises(FileNotFoundError, match=r'2\.tif'):
        ds.prepare_data(1)


def test_mask_size_mismatch(tmp_path):
    _write_refsegrs(tmp_path, {'val': ['1 a road']})
    Image.fromarray(np.full((12, 16), 255, np.uint8)).save(tmp_path / 'masks' / '1.tif')
    results = dict(img_path=str(tmp_path / 'images' / '1.tif'),
                   seg_map_path=str(tmp_path / 'masks' / '1.tif'), ori_shape=(24, 32))
    with pytest.raises(ValueError, match=r'1\.tif.*16x12'):
        LoadRRSISAnnotations()(dict(results))
    out = LoadRRSISAnnotations(on_size_mismatch='resize')(dict(results))
    assert out['gt_seg_map'].shape == (24, 32) and out['gt_seg_map'].all()


def test_empty_expression_is_kept_with_warning(tmp_path):
    _write_refsegrs(tmp_path, {'val': ['1 a road']})
    (tmp_path / 'output_phrase_val.txt').write_text('1 a road\n\n2\n')
    ds = RefSegRSDataset(data_root=str(tmp_path), split='val', lazy_init=False)
    assert [d['text'] for d in ds] == ['a road', '']
