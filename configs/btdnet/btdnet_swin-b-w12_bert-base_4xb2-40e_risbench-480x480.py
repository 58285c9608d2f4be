# BTDNet on RISBench: the RRSIS-D recipe (4 GPUs x 2 images, lr 3e-5, 40 epochs, 480x480) on
# RISBench's files, 40 tokens (longer expressions; model.text_encoder.max_tokens).
_base_ = [
    '../_base_/models/btdnet_swin-b_bert.py', '../_base_/datasets/risbench.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40e.py'
]
model = dict(text_encoder=dict(max_tokens=40))
train_dataloader = dict(batch_size=2, drop_last=True)
optim_wrapper = dict(optimizer=dict(lr=3e-5))
