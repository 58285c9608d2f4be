# LAVT on RISBench: the RRSIS-D recipe (4 GPUs x 8 images, 40 epochs, 480x480) on RISBench's
# files. RISBench expressions are longer than RRSIS-D's (DiCoR uses 50 BERT tokens): 40 tokens
# here instead of LAVT's 20 (a switch: model.text_encoder.max_tokens).
_base_ = [
    '../_base_/models/lavt_swin-b_bert.py', '../_base_/datasets/risbench.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40e.py'
]
model = dict(text_encoder=dict(max_tokens=40))
train_dataloader = dict(batch_size=8, drop_last=True)
