# LAVT on RefSegRS, the paper recipe (see README.md): 4 GPUs x 8 images, 40 epochs.
_base_ = [
    '../_base_/models/lavt_swin-b_bert.py', '../_base_/datasets/refsegrs.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40e.py'
]
train_dataloader = dict(batch_size=8, drop_last=True)
