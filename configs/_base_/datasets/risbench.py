# RISBench (CroBIM; docs/en/dataset_prepare.md), paper protocol: the pipelines of refsegrs.py
# (the 512x512 images resized to 480x480 with Pillow, bilinear image / nearest mask, no
# augmentation; evaluation at 480x480 against the nearest-resized mask), RISBench files.
_base_ = ['./refsegrs.py']
dataset_type = 'RISBenchDataset'
# holds img_rgb/, mask/ and output_phrase_{train,val,test}.txt
data_root = 'data/RISBench'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
# no category in the files: matched in the expression (26 classes and their aliases)
val_evaluator = dict(type='RRSISMetric', categories='risbench')
test_evaluator = val_evaluator
