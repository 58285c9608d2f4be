# RMSIN on RRSIS-D, the official recipe (README.md): 4 GPUs x 2 images, AdamW lr 3e-5 (wd 0.01),
# poly decay per iteration, 40 epochs, 480x480, 20 tokens, BERT layers 0-9 trained, random black
# boxes (20-60 boxes of 32x32) on a fixed 20 % of the training refs, best checkpoint by val oIoU.
_base_ = [
    '../_base_/models/rmsin_swin-b_bert.py', '../_base_/datasets/rrsisd.py',
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
