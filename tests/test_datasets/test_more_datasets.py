# Copyright (c) mmrrsis contributors. All rights reserved.
"""RISBench, NWPU-Refer, RRSIS-HR and the jsonl interchange, each read from files written in its
exact format."""
import importlib.util
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from mmrrsis.datasets import (JsonlReferDataset, NWPUReferDataset, RefSegRSDataset,
                              RISBenchDataset, RRSISDDataset)
from mmrrsis.datasets.checks import check_dataset
from mmrrsis.datasets.kinds import DATASET_KINDS, build_dataset_of_kind
from mmrrsis.datasets.synthetic import generate_synthetic_dataset
from mmrrsis.datasets.transforms import LoadRRSISAnnotations, LoadRRSISImageFromFile

REPO = Path(__file__).resolve().parents[2]
ALL = ('refsegrs', 'rrsisd', 'risbench', 'nwpu', 'jsonl')


def _tool(path):
    spec = importlib.util.spec_from_file_location(Path(path).stem, REPO / path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp('more') / 'synth'
    generate_synthetic_dataset(str(root), num_images=16, image_size=64, seed=0, formats=ALL,
                               progress=False)
    return root


def _load(info):
    out = LoadRRSISImageFromFile()(dict(info))
    return LoadRRSISAnnotations()(out)


def test_risbench_reads_its_layout(synth, tmp_path):
    ds = RISBenchDataset(data_root=str(synth / 'risbench'), split='val', pipeline=[])
    ref = RefSegRSDataset(data_root=str(synth), split='val', pipeline=[])
    assert len(ds) == len(ref) > 0
    info = ds.get_data_info(0)
    assert info['img_path'].endswith('.png') and '/img_rgb/train_' in info['img_path']
    assert info['text'] == ref.get_data_info(0)['text']
    np.testing.assert_array_equal(_load(info)['gt_seg_map'],
                                  _load(ref.get_data_info(0))['gt_seg_map'])
    # the reference loader's rule: any non-zero pixel is foreground (RefSegRS needs > 50)
    root = tmp_path / 'ris'
    (root / 'img_rgb').mkdir(parents=True)
    (root / 'mask').mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / 'img_rgb' / 'test_1_0.png')
    m = np.zeros((8, 8), np.uint8)
    m[2:4, 2:5] = 1  # a 0/1 mask
    Image.fromarray(m).save(root / 'mask' / 'test_1_0.png')
    (root / 'output_phrase_test.txt').write_text('test_1_0.png the  small ship. \t\n')
    item = RISBenchDataset(data_root=str(root), split='test', pipeline=[]).get_data_info(0)
    assert item['text'] == 'the  small ship.' and item['ref_id'] == 'test_1_0.png'
    assert _load(item)['gt_seg_map'].sum() == 6
    with pytest.raises(FileNotFoundError, match='img_rgb/, mask/'):
        RISBenchDataset(data_root=str(root), split='train', pipeline=[])


def _poly(x0, y0, x1, y1):
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def _write_nwpu(root: Path):
    (root / 'image' / 'image').mkdir(parents=True)
    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(root / 'image' / 'image' / 'a.jpg')
    anns = [dict(id=10 + k, image_id=1, category_id=0, segmentation=_poly(2 + 12 * k, 5,
                                                                          8 + 12 * k, 15))
            for k in range(3)]
    anns.append(dict(id=20, image_id=1, category_id=1, segmentation=_poly(5, 25, 30, 35)))
    inst = dict(images=[dict(id=1, file_name='a.jpg', height=40, width=50)], annotations=anns,
                categories=[dict(id=0, name='vehicle'), dict(id=1, name='building')])
    refs = [dict(ref_id=k, image_id=1, ann_id=10 + k, category_id=0, split='test',
                 sentences=[dict(raw='all three cars', sent='all three cars', sent_id=k)])
            for k in range(3)]
    refs.append(dict(ref_id=3, image_id=1, ann_id=20, category_id=1, split='test',
                     sentences=[dict(raw='the building', sent='the building', sent_id=3),
                                dict(raw='房子', sent='房子', sent_id=4)]))
    refs.append(dict(ref_id=4, image_id=1, ann_id=-1, category_id=0, split='testA',
                     sentences=[dict(raw='the ship', sent='the ship', sent_id=5)]))
    (root / 'new_instances.json').write_text(json.dumps(inst))
    with open(root / 'new_refs(unc).p', 'wb') as f:
        pickle.dump(refs, f)
    return inst


def test_nwpu_refer_multi_and_no_target(tmp_path):
    root = tmp_path / 'nwpu'
    inst = _write_nwpu(root)
    ds = NWPUReferDataset(data_root=str(root), split='test', pipeline=[])
    assert ds.data_prefix['img_path'].endswith('image/image')
    by_text = {ds.get_data_info(i)['text']: ds.get_data_info(i) for i in range(len(ds))}
    assert set(by_text) == {'the building', 'the ship', '房子', 'all three cars'}  # per sentence
    three = by_text['all three cars']
    assert three['num_targets'] == 3 and not three['no_target'] and three['ann_ids'] == [10, 11, 12]
    assert three['category'] == 'vehicle'
    # independent: the union of the three polygons decoded by pycocotools
    expect = np.zeros((40, 50), np.uint8)
    for a in inst['annotations'][:3]:
        rle = mask_utils.merge(mask_utils.frPyObjects(a['segmentation'], 40, 50))
        expect |= mask_utils.decode(rle)
    np.testing.assert_array_equal(_load(three)['gt_seg_map'], expect)
    none = by_text['the ship']
    assert none['no_target'] and none['num_targets'] == 0 and none['category'] is None
    assert _load(none)['gt_seg_map'].shape == (40, 50) and not _load(none)['gt_seg_map'].any()
    en = NWPUReferDataset(data_root=str(root), split='test', language='en', pipeline=[])
    assert len(en) == 3
    report = check_dataset('nwpu', str(root), splits=('test', ))
    assert report['ok'] and report['warnings']['empty_mask']['count'] == 0  # no-target is fine


def test_nwpu_from_the_generator(synth):
    ds = NWPUReferDataset(data_root=str(synth / 'nwpu'), split='train', pipeline=[])
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    multi = [i for i in infos if i['num_targets'] > 1]
    none = [i for i in infos if i['no_target']]
    assert multi and none
    assert all(i['text'].startswith('all the ') for i in multi)
    sample = multi[0]
    assert _load(sample)['gt_seg_map'].sum() > 0


def test_jsonl_round_trip_is_bit_exact(synth, tmp_path):
    out = tmp_path / 'jsonl'
    assert _tool('tools/dataset_converters/to_jsonl.py').main(
        ['refsegrs', str(synth), str(out), '--no-progress']) == 0
    for split in ('train', 'val', 'test'):
        src = RefSegRSDataset(data_root=str(synth), split=split, pipeline=[])
        back = JsonlReferDataset(data_root=str(out), split=split, img_dir=str(synth / 'images'),
                                 pipeline=[])
        assert len(src) == len(back)
        for i in range(len(src)):
            a, b = src.get_data_info(i), back.get_data_info(i)
            assert a['img_path'] == b['img_path'] and a['text'] == b['text']
            assert a['ref_id'] == b['ref_id'] and a['sent_id'] == b['sent_id']
            np.testing.assert_array_equal(_load(a)['gt_seg_map'], _load(b)['gt_seg_map'])
    line = json.loads((out / 'refsegrs_val.jsonl').read_text().splitlines()[0])
    assert set(line) >= {'split', 'image_id', 'sent', 'file_name', 'segmentation'}
    assert isinstance(line['segmentation'], dict) and isinstance(line['image_id'], str)


def test_jsonl_reads_rsrefseg2_style_lines_and_names_bad_lines(tmp_path):
    m = np.zeros((6, 7), np.uint8)
    m[1:3, 2:5] = 1
    rle = mask_utils.encode(np.asfortranarray(m))
    rle = dict(size=[6, 7], counts=rle['counts'].decode())
    lines = [dict(split='val', image_id=5, sent='the car', file_name='00005.jpg',
                  category_id=18, category_name='vehicle', ann_id=5, bbox=[2, 1, 5, 3],
                  segmentation=[rle], area=6)]
    (tmp_path / 'rrsisd_val.jsonl').write_text(''.join(json.dumps(x) + '\n' for x in lines))
    ds = JsonlReferDataset(data_root=str(tmp_path), split='val', img_dir='imgs', pipeline=[])
    info = ds.get_data_info(0)
    assert info['category'] == 'vehicle' and info['ref_id'] == 5
    assert info['img_path'].endswith('imgs/00005.jpg')
    np.testing.assert_array_equal(LoadRRSISAnnotations()(dict(info))['gt_seg_map'], m)
    (tmp_path / 'rrsisd_val.jsonl').write_text(json.dumps(lines[0]) + '\n{"split": "val"\n')
    with pytest.raises(ValueError, match=r'rrsisd_val.jsonl:2: not a UTF-8 JSON'):
        JsonlReferDataset(data_root=str(tmp_path), split='val', pipeline=[])
    (tmp_path / 'rrsisd_val.jsonl').write_text(json.dumps(dict(lines[0], split='train')) + '\n')
    with pytest.raises(ValueError, match="split 'train' in the 'val' file"):
        JsonlReferDataset(data_root=str(tmp_path), split='val', pipeline=[])


@pytest.mark.parametrize('kind', DATASET_KINDS)
def test_checker_and_browser_accept_every_kind(synth, tmp_path, kind):
    roots = dict(refsegrs=synth, rrsisd=synth, risbench=synth / 'risbench', nwpu=synth / 'nwpu',
                 jsonl=synth / 'jsonl', rrsishr=tmp_path / 'hr')
    kwargs = dict(img_dir='../images') if kind == 'jsonl' else {}
    if kind == 'rrsishr':  # the RRSIS-D files under the dataset name rrsishr
        (tmp_path / 'hr' / 'images').mkdir(parents=True)
        (tmp_path / 'hr' / 'rrsishr').symlink_to(synth / 'rrsisd')
        (tmp_path / 'hr' / 'images' / 'rrsishr').symlink_to(synth / 'images' / 'rrsisd')
    report = check_dataset(kind, str(roots[kind]), **kwargs)
    assert report['ok'] and report['num_samples'] > 0, report
    ds = build_dataset_of_kind(kind, str(roots[kind]), 'val', **kwargs)
    assert len(ds) > 0
    if kind != 'jsonl':
        out = tmp_path / 'browse'
        assert _tool('tools/misc/browse_dataset.py').main(
            [kind, str(roots[kind]), '--split', 'val', '--out-dir', str(out), '--num', '2']) == 0
        assert len(list(out.glob('*.png'))) == 2


@pytest.mark.parametrize('sent', [None, 42, ['the', 'car']])
def test_jsonl_expression_must_be_a_string_at_load_time(tmp_path, sent):
    """``"sent": null`` passed loading and failed at training iteration 5 in the text encoder;
    now the dataset refuses it naming the file and line."""
    rle = mask_utils.encode(np.asfortranarray(np.ones((4, 4), np.uint8)))
    good = dict(split='val', image_id=1, sent='the car', file_name='1.jpg',
                segmentation=[dict(size=[4, 4], counts=rle['counts'].decode())])
    (tmp_path / 'x_val.jsonl').write_text(json.dumps(good) + '\n' +
                                          json.dumps(dict(good, sent=sent)) + '\n')
    with pytest.raises(ValueError, match=r'x_val.jsonl:2: "sent" must be a string, got'):
        JsonlReferDataset(data_root=str(tmp_path), split='val', pipeline=[])


def test_refer_sentence_must_be_a_string_at_load_time(synth):
    (refs_path, ) = synth.glob('**/refs(unc).p')  # the fixture writes the RRSIS-D layout
    refs = pickle.load(open(refs_path, 'rb'))
    split = refs[0]['split']
    refs[0]['sentences'][0]['raw'] = None
    bad_root = synth.parent / 'refer_null_sent'
    import shutil
    shutil.copytree(refs_path.parent.parent, bad_root, dirs_exist_ok=True)
    pickle.dump(refs, open(bad_root / refs_path.parent.name / refs_path.name, 'wb'))
    with pytest.raises(ValueError, match=rf"ref {refs[0]['ref_id']}, sentence .*must be a "
                       'string, got NoneType'):
        RRSISDDataset(data_root=str(bad_root), split=split, pipeline=[])


@pytest.mark.parametrize('content', ['', '\n\n  \n'])
def test_empty_split_names_the_file_in_every_dataset_class(tmp_path, content):
    """An empty or blank-only phrase file (or a split without samples) gave MMEngine's
    'need at least one array to concatenate'."""
    (tmp_path / 'output_phrase_val.txt').write_text(content)
    with pytest.raises(ValueError, match=r"RefSegRSDataset: split 'val' is empty: the phrase "
                       r'file .*output_phrase_val.txt has no sample lines'):
        RefSegRSDataset(data_root=str(tmp_path), split='val', pipeline=[])
    (tmp_path / 'x_val.jsonl').write_text(content)
    with pytest.raises(ValueError, match=r"JsonlReferDataset: split 'val' is empty: "
                       r'.*x_val.jsonl has no sample lines'):
        JsonlReferDataset(data_root=str(tmp_path), split='val', pipeline=[])


def test_check_dataset_fails_on_an_empty_split_the_config_uses(tmp_path, capsys):
    root = tmp_path / 'synth'
    generate_synthetic_dataset(str(root), num_images=4, image_size=32, seed=0, progress=False)
    (root / 'output_phrase_val.txt').write_text('\n')
    tool = _tool('tools/misc/check_dataset.py')
    config = str(REPO / 'configs/lavt/lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py')
    # without a config an empty split is a warning (exit 0) ...
    assert tool.main(['refsegrs', str(root), '--no-progress']) == 0
    # ... with a config that validates on it, an error
    assert tool.main(['refsegrs', str(root), '--no-progress', '--config', config]) == 1
    assert "split 'val' has no samples" in capsys.readouterr().out
