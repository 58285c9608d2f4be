# RMSIN on RefSegRS: the official recipe of RRSIS-D (4 GPUs x 2 images, lr 3e-5, black boxes on
# 20 % of the training refs) for 60 epochs, as the later RRSIS papers train on RefSegRS (the
# RMSIN code ships no RefSegRS recipe; see README.md).
_base_ = [
    '../_base_/models/rmsin_swin-b_bert.py', '../_base_/datasets/refsegrs.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40e.py'
]
train_pipeline = [
    dict(type='LoadRRSISImageFromFile'),
    dict(type='LoadRRSISAnnotations'),
    dict(type='RandomBlackBoxes', ref_fraction=0.2, num_boxes=(20, 60), box_size=32),
    dict(type='Resize', scale=(480, 480), keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='PackRRSISInputs'),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(lr=3e-5))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=60, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=60)
