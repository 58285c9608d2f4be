# The embedded synthetic RRSIS set (mmrrsis.datasets.synthetic), written in the RefSegRS
# format: 128x128 aerial-like scenes with several objects per image and distractors of the
# target's category. Same protocol as the real sets, at 128x128.
dataset_type = 'RefSegRSDataset'
data_root = 'data/synth'  # made by `make demo` or tools/dataset_converters/generate_synthetic.py
img_scale = (128, 128)
train_pipeline = [
    dict(type='LoadRRSISImageFromFile'),
    dict(type='LoadRRSISAnnotations'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='PackRRSISInputs'),
]
# Paper protocol: the metric compares at the network input resolution.
test_pipeline = [
    dict(type='LoadRRSISImageFromFile'),
    dict(type='LoadRRSISAnnotations'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='SetOriShapeToImgShape'),
    dict(type='PackRRSISInputs'),
]
# Original-resolution protocol (not comparable with the papers' numbers): logits are resized
# to the file's size and compared with the original mask.
test_pipeline_ori_res = [
    dict(type='LoadRRSISImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='LoadRRSISAnnotations'),
    dict(type='PackRRSISInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        test_mode=True,
        pipeline=test_pipeline))
val_evaluator = dict(type='RRSISMetric', categories='synth')
test_evaluator = val_evaluator
