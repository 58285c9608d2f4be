# RMSIN on RefSegRS: the official recipe of RRSIS-D (4 GPUs x 2 images, lr 3e-5) for 60 epochs,
# as the later RRSIS papers train on RefSegRS (the RMSIN code ships no RefSegRS recipe; see
# README.md). No random black boxes: the official code draws them in its RRSIS-D loader only.
_base_ = ['./rmsin_swin-b-w12_bert-base_4xb2-40e_rrsisd-480x480.py']
_refsegrs = dict(type='RefSegRSDataset', data_root='data/RefSegRS')
train_pipeline = [
    dict(type='LoadRRSISImageFromFile'),
    dict(type='LoadRRSISAnnotations'),
    dict(type='Resize', scale=(480, 480), keep_ratio=False, backend='pillow',
         interpolation='bilinear'),
    dict(type='PackRRSISInputs'),
]
train_dataloader = dict(dataset=dict(_refsegrs, pipeline=train_pipeline))
val_dataloader = dict(dataset=_refsegrs)
test_dataloader = dict(dataset=_refsegrs)
val_evaluator = dict(type='RRSISMetric', categories='refsegrs')
test_evaluator = val_evaluator
param_scheduler = [
    dict(type='ExactPolyLR', power=0.9, eta_min=0.0, begin=0, end=60, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=60)
