# Copyright (c) mmrrsis contributors. All rights reserved.
import json
import pickle

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from mmrrsis.datasets import ReferDataset, RRSISDDataset, refer_split_match
from mmrrsis.datasets.transforms import decode_refer_segmentation


def _rle(mask, compressed=True):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def _uncompressed_rle(mask):
    flat = mask.flatten(order='F').astype(np.uint8)
    counts, cur, run = [], 0, 0
    for v in flat:
        if v == cur:
            run += 1
        else:
            counts.append(run)
            cur, run = v, 1
    counts.append(run)
    return dict(size=list(mask.shape), counts=counts)


def _write_refer(root, dataset='rrsisd', h=20, w=30):
    (root / dataset).mkdir(parents=True)
    img_dir = root / 'images' / 'rrsisd' / 'JPEGImages'
    img_dir.mkdir(parents=True)
    masks = {}
    for i in (1, 2, 3, 4):
        Image.fromarray(np.full((h, w, 3), 40 * i, np.uint8)).save(img_dir / f'{i:05d}.jpg')
        m = np.zeros((h, w), np.uint8)
        m[i:i + 5, 2 * i:2 * i + 6] = 1
        masks[i] = m
    poly = [[1.0, 1.0, 10.0, 1.0, 10.0, 8.0, 1.0, 8.0]]
    anns = [
        dict(id=1, image_id=1, categories_id=15, segmentation=[_rle(masks[1])], area=30),
        dict(id=2, image_id=2, category_id=2, segmentation=poly, area=63),
        dict(id=3, image_id=3, categories_id=99, segmentation=[_uncompressed_rle(masks[3])]),
        # image 4 has no annotation and no ref
    ]
    images = [dict(id=i, file_name=f'{i:05d}.jpg', height=h, width=w) for i in (1, 2, 3, 4)]
    cats = [dict(id=2, name='airplane'), dict(id=15, name='storagetank')]
    json.dump(dict(images=images, annotations=anns, categories=cats),
              open(root / dataset / 'instances.json', 'w'))
    refs = [
        dict(ref_id=10, image_id=1, ann_id=1, split='train', file_name='00001.jpg',
             category_id=15, sent_ids=[100, 101],
             sentences=[dict(raw='The storage tank on the left',
                             sent='the storage tank on the left', sent_id=100, tokens=[]),
                        dict(raw='left tank', sent='left tank', sent_id=101, tokens=[])]),
        dict(ref_id=20, image_id=2, ann_id=2, split='testA', file_name='00002.jpg',
             sent_ids=[200], sentences=[dict(raw='plane', sent='plane', sent_id=200)]),
        dict(ref_id=30, image_id=3, ann_id=3, split='val', file_name='00003.jpg',
             category_id=99, sent_ids=[300], sentences=[dict(raw='thing', sent_id=300)]),
    ]
    pickle.dump(refs, open(root / dataset / 'refs(unc).p', 'wb'))
    return masks, poly


def test_split_semantics():
    assert refer_split_match('train', 'train') and not refer_split_match('train', 'val')
    assert refer_split_match('testA', 'test') and refer_split_match('test', 'test')
    assert refer_split_match('testA', 'testA') and not refer_split_match('testB', 'testA')
    assert not refer_split_match('val', 'test')


def test_rrsisd_one_sample_per_sentence(tmp_path):
    masks, _ = _write_refer(tmp_path)
    ds = RRSISDDataset(data_root=str(tmp_path), split='train', pipeline=[])
    assert len(ds) == 2  # one ref with two sentences
    assert [d['text'] for d in ds] == ['The storage tank on the left', 'left tank']
    assert [d['sent_id'] for d in ds] == [100, 101]
    assert all(d['ref_id'] == 10 and d['category'] == 'storagetank' for d in ds)
    assert ds[0]['img_path'].endswith('images/rrsisd/JPEGImages/00001.jpg')
    pipe = [dict(type='LoadRRSISImageFromFile'), dict(type='LoadRRSISAnnotations')]
    out = RRSISDDataset(data_root=str(tmp_path), split='train', pipeline=pipe)[1]
    assert out['gt_seg_map'].dtype == np.uint8
    np.testing.assert_array_equal(out['gt_seg_map'], masks[1])


def test_refer_random_text_mode(tmp_path):
    _write_refer(tmp_path)
    ds = RRSISDDataset(data_root=str(tmp_path), split='train', train_text_mode='random',
                       pipeline=[])
    assert len(ds) == 1
    seen = {(d['sent_id'], d['text']) for d in (ds[0] for _ in range(40))}
    assert seen == {(100, 'The storage tank on the left'), (101, 'left tank')}
    # evaluation ignores the switch: one sample per sentence
    ds = RRSISDDataset(data_root=str(tmp_path), split='train', train_text_mode='random',
                       test_mode=True, pipeline=[])
    assert len(ds) == 2


def test_refer_test_split_polygons_and_category_key(tmp_path):
    _, poly = _write_refer(tmp_path)
    ds = RRSISDDataset(data_root=str(tmp_path), split='test',
                       pipeline=[dict(type='LoadRRSISAnnotations')])
    assert len(ds) == 1 and ds.get_data_info(0)['category'] == 'airplane'
    expected = mask_utils.decode(mask_utils.frPyObjects(poly, 20, 30))[..., 0]
    np.testing.assert_array_equal(ds[0]['gt_seg_map'], expected)
    # unknown category id -> None (logged), uncompressed RLE decodes
    ds = ReferDataset(data_root=str(tmp_path), dataset='rrsisd', split='val',
                      img_dir='images/rrsisd/JPEGImages',
                      pipeline=[dict(type='LoadRRSISAnnotations')])
    assert ds.get_data_info(0)['category'] is None
    assert ds[0]['gt_seg_map'].sum() == 30


def test_refer_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'refs\(unc\)\.p'):
        RRSISDDataset(data_root=str(tmp_path), split='train')
    _write_refer(tmp_path)
    with pytest.raises(ValueError, match="no refs for split 'testB'"):
        RRSISDDataset(data_root=str(tmp_path), split='testB')


def test_decode_union_of_parts():
    a = np.zeros((8, 8), np.uint8)
    a[:4] = 1
    b = np.zeros((8, 8), np.uint8)
    b[2:6] = 1
    out = decode_refer_segmentation([_rle(a), _rle(b)], 8, 8)
    np.testing.assert_array_equal(out, (a | b))
    assert out.max() == 1
