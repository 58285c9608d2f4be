# Copyright (c) mmrrsis contributors. All rights reserved.
"""Fault suite, data side: every broken input written in its real format, and the exact outcome
(an error naming the file and the line / ref / annotation, or a logged, documented fallback)
asserted for the dataset classes, the loading transforms and ``check_dataset``."""
import json
import shutil
from unittest import mock

import numpy as np
import pytest
from PIL import Image

from mmrrsis.datasets import RefSegRSDataset, RRSISDDataset
from mmrrsis.datasets.checks import check_dataset
from mmrrsis.datasets.synthetic import generate_synthetic_dataset
from mmrrsis.datasets.transforms import LoadRRSISAnnotations, LoadRRSISImageFromFile
from mmrrsis.datasets.transforms.loading import decode_refer_segmentation, rle_string_counts

KW = dict(num_images=6, image_size=48, seed=0, progress=False, split_ratio=(4, 1, 1))


@pytest.fixture(scope='module')
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp('faults') / 'pristine'
    generate_synthetic_dataset(str(root), formats=('refsegrs', 'rrsisd'), **KW)
    return root


@pytest.fixture
def data(pristine, tmp_path):
    root = tmp_path / 'data'
    shutil.copytree(pristine, root)
    return root


def _load(results, pipeline):
    for t in pipeline:
        results = t(results)
    return results


def _refer_item(root, idx=0):
    ds = RRSISDDataset(data_root=str(root), split='train', pipeline=[], lazy_init=False)
    return ds.get_data_info(idx)


# ------------------------------------------------------------------- RLE / polygons
BAD_RLES = {
    'empty uncompressed counts': dict(counts=[]),
    'uncompressed counts short of H*W': dict(counts=[10, 20]),
    'empty compressed counts': dict(counts=''),
    'negative run length': dict(counts=[48 * 48 + 5, -5]),
    'size with a zero': dict(size=[0, 48], counts=[]),
    'truncated compressed string': dict(counts='0'),
    'invalid character': dict(counts='a b'),
}


@pytest.mark.parametrize('fault', sorted(BAD_RLES))
def test_bad_rle_is_refused_by_loader_and_checker(data, fault):
    inst_path = data / 'rrsisd' / 'instances.json'
    inst = json.loads(inst_path.read_text())
    info = _refer_item(data, 0)
    ann = next(a for a in inst['annotations'] if a['id'] == info['ann_id'])
    rle = dict(size=[48, 48])
    rle.update(BAD_RLES[fault])
    ann['segmentation'] = [rle]
    inst_path.write_text(json.dumps(inst))

    info = _refer_item(data, 0)
    with pytest.raises(ValueError) as err:
        _load(dict(info), [LoadRRSISImageFromFile(), LoadRRSISAnnotations()])
    msg = str(err.value)
    assert info['img_path'] in msg and f"ref {info['ref_id']}" in msg
    assert f"annotation {info['ann_id']}" in msg and 'instances.json' in msg
    report = check_dataset('rrsisd', str(data))
    entry = report['errors']['unreadable_mask']
    assert entry['count'] == 1 and f"annotation {info['ann_id']}" in entry['examples'][0]
    assert not report['ok']


def test_valid_rles_decode_the_same_every_time(pristine):
    info = _refer_item(pristine, 0)
    seg = info['segmentation'][0]
    counts = rle_string_counts(seg['counts'])
    assert sum(counts) == 48 * 48
    compressed = decode_refer_segmentation(seg, 48, 48)
    uncompressed = decode_refer_segmentation(dict(size=[48, 48], counts=counts), 48, 48)
    np.testing.assert_array_equal(compressed, uncompressed)
    for _ in range(3):  # a bad RLE used to give a different mask on every load
        np.testing.assert_array_equal(decode_refer_segmentation(seg, 48, 48), compressed)


@pytest.mark.parametrize('poly,problem', [([[1, 2, 3, 4]], 'even number'),
                                          ([[1, 2, 3, 4, 5]], 'even number'),
                                          ([[1, 2, 3, float('nan'), 5, 6]], 'non-finite'),
                                          ([['a', 2, 3, 4, 5, 6]], 'non-numeric')])
def test_bad_polygons_are_refused(poly, problem):
    with pytest.raises(ValueError, match=problem):
        decode_refer_segmentation(poly, 48, 48)


# ------------------------------------------------------------------- images
def test_16bit_grey_image_is_scaled_not_clipped(tmp_path):
    arr = np.linspace(0, 65535, 40 * 30).reshape(30, 40).astype(np.uint16)
    path = str(tmp_path / 'grey16.tif')
    Image.fromarray(arr).save(path)
    assert Image.open(path).mode.startswith('I;16')
    with mock.patch('mmrrsis.datasets.transforms.loading.print_log') as log:
        out = LoadRRSISImageFromFile()(dict(img_path=path))
    img = out['img']
    assert img.shape == (30, 40, 3) and img.dtype == np.uint8
    expect = np.rint(arr.astype(np.float64) * 255 / 65535).astype(np.uint8)
    np.testing.assert_array_equal(img[..., 0], expect)  # not a white image
    assert img.min() == 0 and img.max() == 255 and (img == 255).mean() < 0.01
    assert log.call_count == 1 and 'high_bit_depth' in log.call_args[0][0]
    dark = (arr // 16).astype(np.uint16)  # 12-bit data in a 16-bit file
    Image.fromarray(dark).save(path)
    stretched = LoadRRSISImageFromFile(high_bit_depth='minmax')(dict(img_path=path))['img']
    assert stretched.min() == 0 and stretched.max() == 255
    with pytest.raises(ValueError, match='high-bit-depth'):
        LoadRRSISImageFromFile(high_bit_depth='error')(dict(img_path=path))


def test_checker_says_what_the_loader_does_with_non_rgb_images(data):
    sid = (data / 'output_phrase_train.txt').read_text().split()[0]
    arr = np.full((48, 48), 30000, np.uint16)
    Image.fromarray(arr).save(data / 'images' / f'{sid}.tif')
    report = check_dataset('refsegrs', str(data))
    entry = report['warnings']['non_rgb_image']
    assert entry['count'] == 1
    assert 'scales it to 8 bit' in entry['examples'][0] and 'uint16' in entry['examples'][0]
    assert report['ok']  # a warning, not an error: the loader handles it


@pytest.mark.parametrize('fault', ['missing', 'zero_byte', 'truncated'])
def test_broken_image_files_name_the_file(data, fault):
    ds = RefSegRSDataset(data_root=str(data), split='train', pipeline=[])
    info = ds.get_data_info(0)
    path = data / 'images' / info['img_path'].split('/')[-1]
    if fault == 'missing':
        path.unlink()
    elif fault == 'zero_byte':
        path.write_bytes(b'')
    else:
        path.write_bytes(path.read_bytes()[:60])
    with pytest.raises((FileNotFoundError, ValueError)) as err:
        LoadRRSISImageFromFile()(dict(info))
    assert info['img_path'] in str(err.value)
    report = check_dataset('refsegrs', str(data))
    kind = 'missing_image' if fault == 'missing' else 'unreadable_image'
    assert report['errors'][kind]['count'] >= 1


def test_mask_of_another_size_is_an_error_or_a_logged_resize(data):
    ds = RefSegRSDataset(data_root=str(data), split='train', pipeline=[])
    info = ds.get_data_info(0)
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(info['seg_map_path'])
    load = LoadRRSISImageFromFile()
    with pytest.raises(ValueError, match='30x20'):
        LoadRRSISAnnotations()(load(dict(info)))
    with mock.patch('mmrrsis.datasets.transforms.loading.print_log') as log:
        out = LoadRRSISAnnotations(on_size_mismatch='resize')(load(dict(info)))
    assert out['gt_seg_map'].shape == (48, 48) and log.call_count == 1
    assert check_dataset('refsegrs', str(data))['errors']['size_mismatch']['count'] == 1


# ------------------------------------------------------------------- phrase files
def test_non_utf8_phrase_file_names_file_and_line(data):
    path = data / 'output_phrase_train.txt'
    lines = path.read_bytes().split(b'\n')
    lines[2] = lines[2].split(b' ')[0] + b' the caf\xe9 roof'  # Latin-1, not UTF-8
    path.write_bytes(b'\n'.join(lines))
    with pytest.raises(ValueError) as err:
        RefSegRSDataset(data_root=str(data), split='train', pipeline=[])
    assert str(path) in str(err.value) and 'line 3' in str(err.value)
    assert 'UTF-8' in str(err.value)
    report = check_dataset('refsegrs', str(data))
    entry = report['errors']['unreadable_annotation']
    assert entry['count'] == 1 and 'line 3' in entry['examples'][0]


def test_utf8_bom_is_dropped_and_reported(data):
    path = data / 'output_phrase_train.txt'
    first_id = path.read_text().split(' ')[0]
    path.write_bytes(b'\xef\xbb\xbf' + path.read_bytes())
    with mock.patch('mmrrsis.datasets.refsegrs.print_log') as log:
        ds = RefSegRSDataset(data_root=str(data), split='train', pipeline=[])
    assert ds.get_data_info(0)['ref_id'] == first_id  # not '\ufeff' + id
    assert any('byte-order mark' in c[0][0] for c in log.call_args_list)
    report = check_dataset('refsegrs', str(data))
    assert report['warnings']['byte_order_mark']['count'] == 1 and report['ok']


def test_crlf_and_empty_expressions_are_handled(data):
    path = data / 'output_phrase_train.txt'
    lines = path.read_text().splitlines()
    first_id = lines[0].split(' ')[0]
    lines[0] = first_id + ' '
    path.write_bytes(('\r\n'.join(lines) + '\r\n').encode())
    with mock.patch('mmrrsis.datasets.refsegrs.print_log') as log:
        ds = RefSegRSDataset(data_root=str(data), split='train', pipeline=[])
    assert ds.get_data_info(0)['text'] == '' and not ds.get_data_info(1)['text'].endswith('\r')
    assert any('empty expression' in c[0][0] for c in log.call_args_list)
    assert check_dataset('refsegrs', str(data))['errors']['empty_expression']['count'] == 1


def test_duplicate_ids_are_logged_with_the_ids(data):
    path = data / 'output_phrase_train.txt'
    lines = path.read_text().splitlines()
    dup = lines[0].split(' ')[0]
    path.write_text('\n'.join(lines + [f'{dup} another expression']) + '\n')
    with mock.patch('mmrrsis.datasets.refsegrs.print_log') as log:
        RefSegRSDataset(data_root=str(data), split='train', pipeline=[])
    messages = [c[0][0] for c in log.call_args_list if 'duplicate' in c[0][0]]
    assert len(messages) == 1 and f'{dup} (line {len(lines) + 1})' in messages[0]
    assert check_dataset('refsegrs', str(data))['errors']['duplicate_id']['count'] == 1


def test_checker_reports_every_injected_fault_with_counts(data):
    """Several faults at once: each is counted once, under its kind, with the file named."""
    ids = [line.split(' ')[0] for line in
           (data / 'output_phrase_train.txt').read_text().splitlines()]
    (data / 'images' / f'{ids[0]}.tif').unlink()                     # missing image
    (data / 'masks' / f'{ids[1]}.tif').write_bytes(b'not a tiff')    # unreadable mask
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(data / 'masks' / f'{ids[2]}.tif')
    report = check_dataset('refsegrs', str(data))
    assert report['errors']['missing_image']['count'] == 1
    assert report['errors']['unreadable_mask']['count'] == 1
    assert report['errors']['size_mismatch']['count'] == 1
    assert report['num_errors'] == 3
    assert ids[0] in report['errors']['missing_image']['examples'][0]


def test_rrsisd_image_and_rle_of_different_sizes_train_with_the_default_config(data):
    """Some RRSIS-D images are 800x801 / 800x787 while their RLE says 800x800 (RMSIN #12):
    the default RRSIS-D config trains and tests on them as the official loaders do (image
    and mask resized to the network size independently), logged once per image, and
    check_dataset lists them."""
    from pathlib import Path

    from mmengine.config import Config
    from mmengine.dataset import Compose
    repo = Path(__file__).resolve().parents[2]
    cfg = Config.fromfile(str(repo / 'configs/_base_/datasets/rrsisd.py'))
    ds = RRSISDDataset(data_root=str(data), split='train', pipeline=[])
    info = ds.get_data_info(0)
    img = np.asarray(Image.open(info['img_path']).convert('RGB'))
    taller = np.concatenate([img, img[-1:]], axis=0)  # one row more than the RLE says
    Image.fromarray(taller).save(info['img_path'])
    for key in ('train_pipeline', 'test_pipeline'):
        with mock.patch('mmrrsis.datasets.transforms.loading.print_log') as log:
            pipeline = Compose(cfg[key])
            out = pipeline(dict(info))
            pipeline(dict(info))  # logged once per image
        assert log.call_count == 1 and 'kept at its size' in log.call_args[0][0]
        sample = out['data_samples']
        assert tuple(out['inputs'].shape[1:]) == (480, 480)
        assert tuple(sample.gt_sem_seg.data.shape[1:]) == (480, 480)
    # the official rule: the mask resized on its own to 480 (not first to the image)
    expected = np.asarray(Image.fromarray(LoadRRSISAnnotations(on_size_mismatch='keep')(
        LoadRRSISImageFromFile()(dict(info)))['gt_seg_map']).resize((480, 480), Image.NEAREST))
    np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(), expected)
    report = check_dataset('rrsisd', str(data), ['train'])
    assert any(str(info['ref_id']) in e or Path(info['img_path']).name in e
               for e in report['errors']['size_mismatch']['examples'])
