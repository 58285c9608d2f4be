# NWPU-Refer (docs/en/dataset_prepare.md), paper protocol: 480x480 with Pillow (bilinear image,
# nearest mask), evaluation at 480x480. One sample per (image, sentence): the mask is the union
# of every referred object, empty for a no-target expression. The metric adds GRES' gIoU, cIoU,
# N-acc and T-acc to the paper metrics whenever the data holds a no-target sample.
_base_ = ['./refsegrs.py']
dataset_type = 'NWPUReferDataset'
# holds new_refs(unc).p, new_instances.json and image/image/ (older names also found)
data_root = 'data/NWPU-Refer'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_evaluator = dict(type='RRSISMetric', categories=None, generalized=None)
test_evaluator = val_evaluator
