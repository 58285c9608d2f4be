# FIANet on RefSegRS, the official recipe (see README.md): 8 images on one GPU, lr 5e-5,
# 60 epochs, 20 tokens, one TMEM block, RefSegRS category vocabulary.
_base_ = [
    '../_base_/models/fianet_swin-b_bert.py', '../_base_/datasets/refsegrs.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40e.py'
]
model = dict(
    text_encoder=dict(max_tokens=20, object_categories='refsegrs'),
    neck=dict(num_blocks=1))
train_dataloader = dict(batch_size=8)
optim_wrapper = dict(optimizer=dict(lr=5e-5))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=60, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=60)
