# FIANet on RISBench: the RRSIS-D recipe (8 images on one GPU, lr 3e-5, 40 epochs, three TMEM
# blocks, RMSIN's black boxes) on RISBench's files, with RISBench's 26 classes (and aliases) as
# the object vocabulary of the text decoupling and 40 tokens (longer expressions).
_base_ = ['./fianet_swin-b-w12_bert-base_1xb8-40e_rrsisd-480x480.py']
model = dict(text_encoder=dict(max_tokens=40, object_categories='risbench'))
_ris = dict(type='RISBenchDataset', data_root='data/RISBench')
train_dataloader = dict(dataset=_ris)
val_dataloader = dict(dataset=_ris)
test_dataloader = dict(dataset=_ris)
val_evaluator = dict(type='RRSISMetric', categories='risbench')
test_evaluator = val_evaluator
