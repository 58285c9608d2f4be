# RRSIS-D (REFER format; see docs/en/dataset_prepare.md), paper protocol: the pipelines of
# refsegrs.py (480x480 with Pillow, bilinear image / nearest mask, no augmentation; evaluation
# at 480x480 against the nearest-resized mask), RRSIS-D files.
_base_ = ['./refsegrs.py']
dataset_type = 'RRSISDDataset'
img_scale = (480, 480)
# holds rrsisd/refs(unc).p, rrsisd/instances.json and images/rrsisd/JPEGImages/
data_root = 'data/refer'
# Some RRSIS-D images are 800x801 or 800x787 while their RLE says 800x800 (RMSIN issue #12;
# `tools/misc/check_dataset.py` lists them). The official loaders resize image and mask to 480
# independently and train on: on_size_mismatch='keep' does the same (logged once per image).
train_pipeline = [
    dict(type='LoadRRSISImageFromFile'),
    dict(type='LoadRRSISAnnotations', on_size_mismatch='keep'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='PackRRSISInputs'),
]
test_pipeline = [
    dict(type='LoadRRSISImageFromFile'),
    dict(type='LoadRRSISAnnotations', on_size_mismatch='keep'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='SetOriShapeToImgShape'),
    dict(type='PackRRSISInputs'),
]
# original resolution: the mask is compared at the image's size, so it is resized to it
test_pipeline_ori_res = [
    dict(type='LoadRRSISImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='LoadRRSISAnnotations', on_size_mismatch='resize'),
    dict(type='PackRRSISInputs'),
]
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=test_pipeline))
# categories come from each ref's category_id
val_evaluator = dict(type='RRSISMetric', categories=None)
test_evaluator = val_evaluator
