# RefSegRS (https://huggingface.co/datasets/JessicaYuan/RefSegRS, RefSegRS.zip), paper protocol:
# 480x480 with Pillow (bilinear image, nearest mask), ImageNet mean/std in the data
# preprocessor, no augmentation; evaluation at 480x480 against the nearest-resized mask.
dataset_type = 'RefSegRSDataset'
data_root = 'data/RefSegRS'
img_scale = (480, 480)
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
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
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
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        test_mode=True,
        pipeline=test_pipeline))
val_evaluator = dict(type='RRSISMetric', categories='refsegrs')
test_evaluator = val_evaluator
