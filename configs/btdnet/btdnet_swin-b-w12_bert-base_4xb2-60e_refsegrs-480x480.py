# BTDNet on RefSegRS, a paper-like recipe (interpretation, see README.md): 4 GPUs x 2 images
# (total batch 8), lr 5e-5, 60 epochs (FIANet's RefSegRS schedule), 20 tokens, 480x480.
_base_ = [
    '../_base_/models/btdnet_swin-b_bert.py', '../_base_/datasets/refsegrs.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40e.py'
]
train_dataloader = dict(batch_size=2, drop_last=True)
optim_wrapper = dict(optimizer=dict(lr=5e-5))
param_scheduler = [
    dict(type='ExactPolyLR', power=0.9, eta_min=0.0, begin=0, end=60, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=60)
