# Copyright (c) mmrrsis contributors. All rights reserved.
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmrrsis.datasets.checks import ERROR_KINDS, WARNING_KINDS, check_dataset
from mmrrsis.datasets.synthetic import generate_synthetic_dataset

REPO = Path(__file__).resolve().parents[2]
TOOL = str(REPO / 'tools' / 'misc' / 'check_dataset.py')


@pytest.fixture(scope='module')
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp('check') / 'clean'
    generate_synthetic_dataset(str(root), num_images=12, image_size=64,
                               formats=('refsegrs', 'rrsisd'), progress=False)
    return root


def _counts(report):
    return {k: v['count'] for k, v in {**report['errors'], **report['warnings']}.items()}


def _expect(report, **nonzero):
    expected = {k: 0 for k in ERROR_KINDS + WARNING_KINDS}
    expected.update(nonzero)
    assert _counts(report) == expected


def _run(*args):
    return subprocess.run([sys.executable, TOOL, *map(str, args), '--no-progress'],
                          capture_output=True, text=True, cwd=str(REPO),
                          env=dict(os.environ, HF_HUB_OFFLINE='1'))


@pytest.fixture(scope='module')
def broken_refsegrs(clean, tmp_path_factory):
    root = tmp_path_factory.mktemp('check') / 'broken'
    shutil.copytree(clean, root)
    train = (root / 'output_phrase_train.txt').read_text().splitlines()
    test = (root / 'output_phrase_test.txt').read_text().splitlines()
    ids = [line.split(' ', 1)[0] for line in train]
    (root / 'images' / f'{ids[0]}.tif').unlink()  # missing image
    (root / 'masks' / f'{ids[1]}.tif').write_bytes(b'\x00garbage, not a tiff' * 7)
    Image.fromarray(np.full((32, 48), 255, np.uint8)).save(root / 'masks' / f'{ids[2]}.tif')
    train[3] = ids[3] + ' '  # empty expression
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(root / 'masks' / f'{ids[4]}.tif')
    train.append(f'{ids[5]} the same id again')  # duplicate within train
    test.append(f'{ids[6]} an id of the train split')  # duplicate across splits
    (root / 'output_phrase_train.txt').write_text('\n'.join(train) + '\n')
    (root / 'output_phrase_test.txt').write_text('\n'.join(test) + '\n')
    return root, ids


def test_check_refsegrs_counts_each_problem(broken_refsegrs):
    root, ids = broken_refsegrs
    report = check_dataset('refsegrs', str(root))
    _expect(report, missing_image=1, unreadable_mask=1, size_mismatch=1, empty_expression=1,
            duplicate_id=1, duplicate_id_across_splits=1, empty_mask=1)
    assert report['num_errors'] == 6 and report['num_warnings'] == 1 and not report['ok']
    errors = report['errors']
    assert f'{ids[0]}.tif' in errors['missing_image']['examples'][0]
    assert f'masks/{ids[1]}.tif' in errors['unreadable_mask']['examples'][0]
    assert f'{ids[2]}.tif' in errors['size_mismatch']['examples'][0]
    assert f'id {ids[3]}' in errors['empty_expression']['examples'][0]
    assert f'masks/{ids[4]}.tif' in report['warnings']['empty_mask']['examples'][0]


def test_check_cli_exit_codes(broken_refsegrs, clean, tmp_path):
    root, ids = broken_refsegrs
    out = tmp_path / 'report.json'
    res = _run('refsegrs', root, '--out', out)
    assert res.returncode == 1, res.stdout + res.stderr
    for name in (f'images/{ids[0]}.tif', f'masks/{ids[1]}.tif', f'masks/{ids[2]}.tif',
                 f'masks/{ids[4]}.tif'):
        assert name in res.stdout
    assert 'ERROR duplicate_id: 1' in res.stdout and 'WARNING empty_mask: 1' in res.stdout
    assert json.loads(out.read_text())['num_errors'] == 6
    res = _run('refsegrs', clean, '--splits', 'train', 'val', 'test')
    assert res.returncode == 0, res.stdout + res.stderr
    assert '0 error(s), 0 warning(s): OK' in res.stdout


def test_check_rrsisd(clean, tmp_path):
    from pycocotools import mask as mask_utils
    assert check_dataset('rrsisd', str(clean))['ok']
    assert _counts(check_dataset('rrsisd', str(clean))) == _counts(
        check_dataset('refsegrs', str(clean)))
    root = tmp_path / 'rrsisd_broken'
    shutil.copytree(clean, root, ignore=shutil.ignore_patterns('masks', 'output_phrase_*'))
    refs_path = root / 'rrsisd' / 'refs(unc).p'
    inst_path = root / 'rrsisd' / 'instances.json'
    refs = pickle.loads(refs_path.read_bytes())
    inst = json.loads(inst_path.read_text())
    anns = {a['id']: a for a in inst['annotations']}
    (root / 'images' / 'rrsisd' / 'JPEGImages' / refs[0]['file_name']).unlink()
    anns[refs[1]['ann_id']]['segmentation'] = []  # does not decode
    small = mask_utils.encode(np.asfortranarray(np.ones((32, 32), np.uint8)))
    anns[refs[7]['ann_id']]['segmentation'] = [dict(small, counts=small['counts'].decode())]
    refs[2]['sentences'][0]['raw'] = refs[2]['sentences'][0]['sent'] = ' '
    refs[3]['category_id'] = anns[refs[3]['ann_id']]['categories_id'] = 99
    grey = root / 'images' / 'rrsisd' / 'JPEGImages' / refs[4]['file_name']
    grey.unlink()  # the samples of one scene share a hard-linked file
    Image.open(root / 'images' / 'rrsisd' / 'JPEGImages' / refs[5]['file_name']).convert(
        'L').save(grey)
    refs.append(dict(refs[6], split='test' if refs[6]['split'] != 'test' else 'train'))
    refs_path.write_bytes(pickle.dumps(refs))
    inst_path.write_text(json.dumps(inst))
    report = check_dataset('rrsisd', str(root))
    # the appended ref repeats a ref_id of another split (its sentences are then not counted)
    _expect(report, missing_image=1, unreadable_mask=1, size_mismatch=1, empty_expression=1,
            unknown_category=1, duplicate_id_across_splits=1, non_rgb_image=1)
    assert refs[0]['file_name'] in report['errors']['missing_image']['examples'][0]


def test_check_missing_files(tmp_path):
    report = check_dataset('refsegrs', str(tmp_path), splits=['val'])
    _expect(report, missing_file=1)
    report = check_dataset('rrsisd', str(tmp_path))
    _expect(report, missing_file=2)
    with pytest.raises(ValueError):
        check_dataset('coco', str(tmp_path))
