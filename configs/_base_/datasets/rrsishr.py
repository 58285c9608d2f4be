# RRSIS-HR (CADFormer; REFER layout identical to RRSIS-D under the name rrsishr), paper protocol
# of refsegrs.py / rrsisd.py: 480x480 with Pillow, evaluation at 480x480.
_base_ = ['./refsegrs.py']
dataset_type = 'ReferDataset'
# holds rrsishr/refs(unc).p, rrsishr/instances.json and images/rrsishr/JPEGImages/
data_root = 'data/refer'
_hr = dict(type=dataset_type, data_root=data_root, dataset='rrsishr', split_by='unc',
           img_dir='images/rrsishr/JPEGImages')
train_dataloader = dict(dataset=_hr)
val_dataloader = dict(dataset=_hr)
test_dataloader = dict(dataset=_hr)
val_evaluator = dict(type='RRSISMetric', categories=None)
test_evaluator = val_evaluator
