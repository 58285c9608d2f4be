# FIANet on RRSIS-D, the official recipe (see README.md): 8 images on one GPU, lr 3e-5,
# 40 epochs, 22 tokens, three TMEM blocks, RRSIS-D category vocabulary, RMSIN's black boxes.
_base_ = [
    '../_base_/models/fianet_swin-b_bert.py', '../_base_/datasets/rrsisd.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40e.py'
]
model = dict(
    text_encoder=dict(max_tokens=22, object_categories='rrsisd'),
    neck=dict(num_blocks=3))
train_pipeline = [
    dict(type='LoadRRSISImageFromFile'),
    dict(type='LoadRRSISAnnotations', on_size_mismatch='keep'),
    dict(type='RandomBlackBoxes', ref_fraction=0.2, num_boxes=(20, 60), box_size=32),
    dict(type='Resize', scale=(480, 480), keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='PackRRSISInputs'),
]
train_dataloader = dict(batch_size=8, drop_last=True, dataset=dict(pipeline=train_pipeline))
# TMEM lives in the official backbone with its BatchNorm named 'bn' (decayed), here `neck.norm`:
# the longer key wins over schedule_40e.py's 'norm' (weight decay 0 for backbone norms)
optim_wrapper = dict(
    optimizer=dict(lr=3e-5), paramwise_cfg=dict(custom_keys={'neck.norm': dict(decay_mult=1.)}))
