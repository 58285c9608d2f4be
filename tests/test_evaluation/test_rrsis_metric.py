# Copyright (c) mmrrsis contributors. All rights reserved.
import json
import sys

import numpy as np
import pytest
import torch

import mmrrsis  # noqa: F401  (fills the registries)
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

from mmrrsis.evaluation import RRSISMetric

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def make_sample(pred, gt, text='the object', category=None, ref_id=0, sent_id=0,
                img_path='images/0.tif'):
    """A data sample dict as ``Evaluator.process`` hands it to the metric."""
    data_sample = SegDataSample(metainfo=dict(
        img_path=img_path, text=text, category=category, ref_id=ref_id, sent_id=sent_id))
    data_sample.pred_sem_seg = PixelData(data=torch.as_tensor(np.asarray(pred))[None])
    data_sample.gt_sem_seg = PixelData(data=torch.as_tensor(np.asarray(gt))[None])
    return data_sample.to_dict()


def evaluate(samples, **kwargs):
    metric = RRSISMetric(**kwargs)
    metric.process(None, samples)
    return metric.evaluate(len(samples))


def box_mask(h, w, y0, y1, x0, x1):
    mask = np.zeros((h, w), dtype=np.int64)
    mask[y0:y1, x0:x1] = 1
    return mask


def reference_numbers(pairs):
    """oIoU, mIoU and Pr@t computed independently with numpy (pred, gt as bool arrays)."""
    inter = np.array([np.logical_and(p, g).sum() for p, g in pairs], dtype=np.float64)
    union = np.array([np.logical_or(p, g).sum() for p, g in pairs], dtype=np.float64)
    with np.errstate(invalid='ignore', divide='ignore'):
        ious = np.nan_to_num(inter / union, nan=0.0)
    expected = {'oIoU': 100 * inter.sum() / union.sum(), 'mIoU': 100 * ious.mean()}
    for t in THRESHOLDS:
        expected[f'Pr@{t}'] = 100 * np.count_nonzero(ious >= t) / len(pairs)
    return expected, int(np.count_nonzero(union == 0))


def test_build_from_registry():
    metric = METRICS.build(dict(type='RRSISMetric'))
    assert isinstance(metric, RRSISMetric)
    assert metric.thresholds == THRESHOLDS
    assert METRICS.build(dict(type='RRSISMetric', categories='rrsisd')).categories[-1] == 'windmill'
    with pytest.raises(ValueError, match='preset'):
        RRSISMetric(categories='coco')
    with pytest.raises(ValueError, match='thresholds'):
        RRSISMetric(thresholds=(0.5, 1.5))
    with pytest.raises(ValueError, match='size_thresholds'):
        RRSISMetric(size_thresholds=(0.1, 0.01))


def test_random_masks_match_numpy():
    rng = np.random.default_rng(0)
    samples, pairs = [], []
    for i in range(30):
        h, w = rng.integers(4, 33, size=2)
        if i < 3:  # empty prediction and empty ground truth: IoU 0, still counted
            pred = np.zeros((h, w), dtype=np.int64)
            gt = np.zeros((h, w), dtype=np.int64)
        else:
            pred = (rng.random((h, w)) < rng.uniform(0.02, 0.9)).astype(np.int64)
            gt = (rng.random((h, w)) < rng.uniform(0.02, 0.9)).astype(np.int64)
            if i % 4 == 0:  # ignore pixels are not foreground
                gt[rng.random((h, w)) < 0.1] = 255
        samples.append(make_sample(pred, gt, ref_id=i, sent_id=i))
        pairs.append((pred != 0, gt == 1))

    metrics = evaluate(samples)
    expected, num_empty = reference_numbers(pairs)
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6), key
    assert metrics['num_samples'] == 30
    assert metrics['num_empty_union'] == num_empty == 3
    assert 'num_unmatched_category' not in metrics


def test_protocol_anchors():
    gt = box_mask(10, 10, 2, 6, 2, 6)
    perfect = evaluate([make_sample(gt, gt)])
    assert perfect['mIoU'] == perfect['oIoU'] == perfect['Pr@0.9'] == pytest.approx(100.0)

    # Both masks empty: IoU 0 and the sample stays in the mIoU denominator.
    empty = np.zeros((10, 10), dtype=np.int64)
    metrics = evaluate([make_sample(gt, gt), make_sample(empty, empty)])
    assert metrics['mIoU'] == pytest.approx(50.0)
    assert metrics['oIoU'] == pytest.approx(100.0)
    assert metrics['num_empty_union'] == 1

    # I = 8, U = 16: an IoU of exactly 0.5 counts for Pr@0.5 (inclusive >=).
    pred = box_mask(10, 10, 0, 2, 0, 8)
    half_gt = box_mask(10, 10, 0, 2, 0, 4)
    metrics = evaluate([make_sample(pred, half_gt)])
    assert metrics['Pr@0.5'] == pytest.approx(100.0)
    assert metrics['Pr@0.6'] == pytest.approx(0.0)

    # Areas 1 and 100: a perfect small object and a missed large one differ in oIoU and mIoU.
    small = box_mask(20, 20, 0, 1, 0, 1)
    large = box_mask(20, 20, 10, 20, 10, 20)
    missed = np.zeros((20, 20), dtype=np.int64)
    metrics = evaluate([make_sample(small, small), make_sample(missed, large)])
    assert metrics['mIoU'] == pytest.approx(50.0)
    assert metrics['oIoU'] == pytest.approx(100 * 1 / 101)
    assert metrics['oIoU'] != pytest.approx(metrics['mIoU'])


def test_float_predictions_from_sigmoid_head():
    gt = box_mask(8, 8, 0, 4, 0, 8)
    pred_float = box_mask(8, 8, 0, 4, 0, 4).astype(np.float32)  # 0./1. after sigmoid > thr
    metrics = evaluate([make_sample(pred_float, gt)])
    assert metrics['oIoU'] == pytest.approx(50.0)
    assert metrics['Pr@0.5'] == pytest.approx(100.0)


def test_per_category_from_metainfo():
    gt = box_mask(10, 10, 0, 5, 0, 10)
    half = box_mask(10, 10, 0, 5, 0, 5)
    samples = [
        make_sample(gt, gt, category='storagetank'),
        make_sample(half, gt, category='storagetank'),
        make_sample(gt, gt, category='airplane'),
    ]
    metrics = evaluate(samples)
    assert metrics['cat/storage_tank/count'] == 2
    assert metrics['cat/storage_tank/mIoU'] == pytest.approx(75.0)
    assert metrics['cat/storage_tank/oIoU'] == pytest.approx(100 * 75 / 100)
    assert metrics['cat/airplane/mIoU'] == pytest.approx(100.0)
    assert 'num_unmatched_category' not in metrics

    no_breakdown = evaluate(samples, per_category=False)
    assert not any(key.startswith('cat/') for key in no_breakdown)


def test_per_category_from_text():
    gt = box_mask(10, 10, 0, 5, 0, 10)
    empty = np.zeros_like(gt)
    samples = [
        make_sample(gt, gt, text='the white car next to the building'),
        make_sample(empty, gt, text='two cars parked in the shade'),
        make_sample(gt, gt, text='the road marking on the left'),
        make_sample(gt, gt, text='the thing in the middle'),  # matches no category
        make_sample(gt, gt, text='the carpet of grass', category='vehicle'),  # metainfo wins
    ]
    metrics = evaluate(samples, categories='refsegrs')
    assert metrics['cat/car/count'] == 2
    assert metrics['cat/car/mIoU'] == pytest.approx(50.0)
    assert metrics['cat/road_marking/count'] == 1
    assert 'cat/road/count' not in metrics and 'cat/building/count' not in metrics
    assert metrics['cat/vehicle/count'] == 1
    assert metrics['num_unmatched_category'] == 1

    custom = evaluate(samples[:2], categories=['car'])
    assert custom['cat/car/count'] == 2 and custom['num_unmatched_category'] == 0

    # the synthetic preset knows the generator's synonyms: "lake" is a pond, "tank" a storage
    # tank, "house" a building
    synth = [make_sample(gt, gt, text='the lake above the field'),
             make_sample(empty, gt, text='the grey oil tank on the right'),
             make_sample(gt, gt, text='the small house'),
             make_sample(gt, gt, text='the pond')]
    metrics = evaluate(synth, categories='synth')
    assert metrics['cat/pond/count'] == 2 and metrics['cat/pond/mIoU'] == pytest.approx(100.)
    assert metrics['cat/storage_tank/count'] == 1 and metrics['cat/building/count'] == 1
    assert metrics['num_unmatched_category'] == 0
    assert 'cat/field/count' not in metrics


def test_per_size_buckets():
    h = w = 20  # 400 pixels: small < 4 px, medium 4-39 px, large >= 40 px
    small = box_mask(h, w, 0, 1, 0, 2)  # 2 px = 0.5 %
    medium = box_mask(h, w, 0, 2, 0, 10)  # 20 px = 5 %
    large = box_mask(h, w, 0, 10, 0, 10)  # 100 px = 25 %
    boundary = box_mask(h, w, 0, 2, 0, 2)  # 4 px = exactly 1 % -> medium
    empty = np.zeros((h, w), dtype=np.int64)
    samples = [make_sample(small, small), make_sample(empty, medium),
               make_sample(medium, boundary), make_sample(large, large),
               make_sample(empty, empty)]
    metrics = evaluate(samples)
    assert metrics['size/small/count'] == 1
    assert metrics['size/small/mIoU'] == pytest.approx(100.0)
    assert metrics['size/medium/count'] == 2
    assert metrics['size/medium/mIoU'] == pytest.approx(100 * (0 + 4 / 20) / 2)
    assert metrics['size/medium/oIoU'] == pytest.approx(100 * 4 / 40)
    assert metrics['size/large/count'] == 1
    assert metrics['size/empty/count'] == 1

    no_breakdown = evaluate(samples, per_size=False)
    assert not any(key.startswith('size/') for key in no_breakdown)


def test_shape_mismatch_names_the_sample():
    metric = RRSISMetric()
    sample = make_sample(np.zeros((4, 6), dtype=np.int64), np.zeros((4, 5), dtype=np.int64),
                         img_path='images/bad_sample.tif')
    with pytest.raises(ValueError, match=r'bad_sample\.tif.*') as err:
        metric.process(None, [sample])
    assert '(4, 6)' in str(err.value) and '(4, 5)' in str(err.value)


def test_output_file(tmp_path):
    gt = box_mask(6, 6, 0, 3, 0, 6)
    samples = [make_sample(gt, gt, text='the bus', ref_id=np.int64(7), sent_id=3),
               make_sample(np.zeros_like(gt), gt, text='a tree', ref_id=8, sent_id=4)]
    out = tmp_path / 'sub' / 'per_sample.jsonl'
    evaluate(samples, categories='refsegrs', output_file=str(out))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 2
    assert lines[0]['ref_id'] == 7 and lines[0]['sent_id'] == 3
    assert lines[0]['text'] == 'the bus' and lines[0]['category'] == 'bus'
    assert (lines[0]['I'], lines[0]['U'], lines[0]['iou']) == (18, 18, 1.0)
    assert (lines[1]['I'], lines[1]['U'], lines[1]['iou']) == (0, 18, 0.0)


def test_table_without_prettytable(monkeypatch):
    monkeypatch.setitem(sys.modules, 'prettytable', None)  # import then raises ImportError
    gt = box_mask(6, 6, 0, 3, 0, 6)
    metrics = evaluate([make_sample(gt, gt, text='a van')], categories='refsegrs')
    assert metrics['cat/van/mIoU'] == pytest.approx(100.0)


def _with_flag(sample, no_target):
    sample['no_target'] = no_target
    return sample


def test_generalized_scores_against_an_independent_computation():
    rng = np.random.default_rng(0)
    pairs, flags = [], []
    for k in range(40):
        no_target = k % 4 == 0
        gt = np.zeros((8, 9), np.int64) if no_target else (rng.random((8, 9)) < 0.3)
        pred = rng.random((8, 9)) < (0.0 if k % 8 == 0 else 0.25)  # some empty predictions
        if k % 5 == 1 and not no_target:
            pred[:] = False  # a target missed entirely
        pairs.append((pred.astype(np.int64), np.asarray(gt, np.int64)))
        flags.append(no_target)
    samples = [_with_flag(make_sample(p, g), f) for (p, g), f in zip(pairs, flags)]
    metrics = evaluate(samples)
    # independent computation
    inter = np.array([np.logical_and(p, g).sum() for p, g in pairs], float)
    union = np.array([np.logical_or(p, g).sum() for p, g in pairs], float)
    empty_pred = np.array([not p.any() for p, _ in pairs])
    flags = np.array(flags)
    g_iou = np.where(flags, empty_pred.astype(float),
                     np.divide(inter, union, out=np.zeros_like(inter), where=union > 0))
    assert metrics['gIoU'] == pytest.approx(100 * g_iou.mean(), abs=1e-9)
    assert metrics['cIoU'] == pytest.approx(100 * inter.sum() / union.sum(), abs=1e-9)
    assert metrics['cIoU'] == pytest.approx(metrics['oIoU'], abs=1e-9)
    assert metrics['N-acc'] == pytest.approx(100 * empty_pred[flags].mean(), abs=1e-9)
    assert metrics['T-acc'] == pytest.approx(100 * (~empty_pred[~flags]).mean(), abs=1e-9)
    assert metrics['num_no_target'] == flags.sum() == 10
    # the paper metrics keep their convention: an empty union counts 0 in mIoU
    expected, _ = reference_numbers([(p.astype(bool), g.astype(bool)) for p, g in pairs])
    assert metrics['mIoU'] == pytest.approx(expected['mIoU'], abs=1e-9)
    assert metrics['gIoU'] > metrics['mIoU']  # empty-on-empty counts 1 only in gIoU


def test_generalized_scores_only_with_no_target_data_or_on_request():
    gt = box_mask(6, 6, 0, 3, 0, 6)
    plain = evaluate([make_sample(gt, gt)])
    assert 'gIoU' not in plain and 'N-acc' not in plain
    asked = evaluate([make_sample(gt, gt)], generalized=True)
    assert asked['gIoU'] == pytest.approx(100.0) and asked['T-acc'] == pytest.approx(100.0)
    assert 'N-acc' not in asked  # no no-target sample to score
    off = evaluate([_with_flag(make_sample(gt * 0, gt * 0), True)], generalized=False)
    assert 'gIoU' not in off
    auto = evaluate([_with_flag(make_sample(gt * 0, gt * 0), True), make_sample(gt, gt)])
    assert auto['N-acc'] == pytest.approx(100.0) and auto['gIoU'] == pytest.approx(100.0)
    assert auto['mIoU'] == pytest.approx(50.0)
