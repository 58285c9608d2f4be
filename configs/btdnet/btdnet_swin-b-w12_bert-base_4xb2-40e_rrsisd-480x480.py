# BTDNet on RRSIS-D, a paper-like recipe (interpretation, see README.md): RMSIN's protocol,
# 4 GPUs x 2 images (total batch 8), lr 3e-5, 40 epochs, 20 tokens, 480x480.
_base_ = [
    '../_base_/models/btdnet_swin-b_bert.py', '../_base_/datasets/rrsisd.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40e.py'
]
train_dataloader = dict(batch_size=2, drop_last=True)
optim_wrapper = dict(optimizer=dict(lr=3e-5))
