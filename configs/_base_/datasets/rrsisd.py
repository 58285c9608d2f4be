# RRSIS-D (REFER format; see docs/en/dataset_prepare.md), paper protocol: the pipelines of
# refsegrs.py (480x480 with Pillow, bilinear image / nearest mask, no augmentation; evaluation
# at 480x480 against the nearest-resized mask), RRSIS-D files.
_base_ = ['./refsegrs.py']
dataset_type = 'RRSISDDataset'
# holds rrsisd/refs(unc).p, rrsisd/instances.json and images/rrsisd/JPEGImages/
data_root = 'data/refer'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
# categories come from each ref's category_id
val_evaluator = dict(type='RRSISMetric', categories=None)
test_evaluator = val_evaluator
