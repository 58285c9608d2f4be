# FIANet on RefSegRS, the official recipe (see README.md): 8 images on one GPU, lr 5e-5,
# 60 epochs, 20 tokens, one TMEM block, RefSegRS category vocabulary.
_base_ = [
    '../_base_/models/fianet_swin-b_bert.py', '../_base_/datasets/refsegrs.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40e.py'
]
model = dict(
    text_encoder=dict(max_tokens=20, object_categories='refsegrs'),
    neck=dict(num_blocks=1))
train_dataloader = dict(batch_size=8, drop_last=True)
# TMEM lives in the official backbone with its BatchNorm named 'bn' (decayed), here `neck.norm`:
# the longer key wins over schedule_40e.py's 'norm' (weight decay 0 for backbone norms)
optim_wrapper = dict(
    optimizer=dict(lr=5e-5), paramwise_cfg=dict(custom_keys={'neck.norm': dict(decay_mult=1.)}))
param_scheduler = [
    dict(type='ExactPolyLR', power=0.9, eta_min=0.0, begin=0, end=60, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=60)
