# LAVT on NWPU-Refer (single-, multi- and no-target expressions; GRES scores added by the
# metric): the RRSIS-D recipe, 480x480, 20 tokens.
_base_ = [
    '../_base_/models/lavt_swin-b_bert.py', '../_base_/datasets/nwpu_refer.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40e.py'
]
train_dataloader = dict(batch_size=8, drop_last=True)
