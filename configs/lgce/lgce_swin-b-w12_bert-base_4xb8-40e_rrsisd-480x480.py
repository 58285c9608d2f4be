# LGCE on RRSIS-D (as benchmarked by RMSIN), the rrsis recipe (see README.md): 4 GPUs x 8
# images, lr 5e-5, 40 epochs, 20 tokens, weighted CE.
_base_ = [
    '../_base_/models/lgce_swin-b_bert.py', '../_base_/datasets/rrsisd.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40e.py'
]
train_dataloader = dict(batch_size=8)
