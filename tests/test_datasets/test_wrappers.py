# Copyright (c) mmrrsis contributors. All rights reserved.
import numpy as np

from mmrrsis.datasets import BlankTextDataset, RefSegRSDataset, ShuffledTextDataset
from test_refsegrs import _write_refsegrs

LINES = ['1 the red car', '2 the large building', '3 the tree on the left', '4 the pond',
         '5 the road in the middle']


def _dataset(tmp_path):
    _write_refsegrs(tmp_path, {'test': LINES})
    return RefSegRSDataset(
        data_root=str(tmp_path), split='test', test_mode=True,
        pipeline=[dict(type='LoadRRSISImageFromFile'), dict(type='LoadRRSISAnnotations')])


def test_shuffled_text_is_a_seeded_derangement(tmp_path):
    base = _dataset(tmp_path)
    texts = [line.split(' ', 1)[1] for line in LINES]
    wrapped = ShuffledTextDataset(base, seed=3)
    assert len(wrapped) == len(base) and wrapped.metainfo == base.metainfo
    got = [wrapped.get_data_info(i)['text'] for i in range(len(base))]
    assert sorted(got) == sorted(texts)  # a permutation of the texts
    assert all(g != t for g, t in zip(got, texts))  # no sample keeps its own text
    assert got == [ShuffledTextDataset(base, seed=3).get_data_info(i)['text'] for i in range(5)]
    item = wrapped[2]  # image and mask of sample 2, text of another sample
    np.testing.assert_array_equal(item['img'], base[2]['img'])
    assert item['orig_text'] == texts[2] and item['text'] == got[2]


def test_blank_text_replaces_every_expression(tmp_path):
    base = _dataset(tmp_path)
    blind = BlankTextDataset(base)
    assert [blind[i]['text'] for i in range(len(base))] == [''] * len(base)
    assert blind[0]['orig_text'] == 'the red car'
    np.testing.assert_array_equal(blind[4]['gt_seg_map'], base[4]['gt_seg_map'])
    fixed = BlankTextDataset(dict(
        type='RefSegRSDataset', data_root=str(tmp_path), split='test', test_mode=True,
        pipeline=[]), text='object')
    assert {fixed.get_data_info(i)['text'] for i in range(len(fixed))} == {'object'}
