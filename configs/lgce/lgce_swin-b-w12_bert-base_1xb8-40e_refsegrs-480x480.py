# LGCE on RefSegRS, the rrsis recipe (see README.md): one GPU x 8 images (the official train.py
# hard-codes DDP with device_ids=[0], one process), lr 5e-5, 40 epochs, 20 tokens, weighted CE,
# no BERT dropout.
_base_ = [
    '../_base_/models/lgce_swin-b_bert.py', '../_base_/datasets/refsegrs.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40e.py'
]
train_dataloader = dict(batch_size=8, drop_last=True)
# The rrsis code builds LGCE into the classifier ('classifier.msb1.*' in the one older readable
# copy), whose parameters all get weight decay 0.01 in train.py: 'neck.' wins over
# schedule_40e.py's 'norm' (no decay for backbone norms) as the longer key.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'neck.': dict(decay_mult=1.)}))
