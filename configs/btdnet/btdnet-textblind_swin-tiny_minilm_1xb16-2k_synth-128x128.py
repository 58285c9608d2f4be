# Text-blind control of the small BTDNet (synthetic, CPU): the same model and schedule, but every
# training, validation and test sample gets the empty expression (`BlankTextDataset`), so the
# model can only learn the images' salient-object prior. BTDNet must beat it clearly.
_base_ = ['./btdnet_swin-tiny_minilm_1xb16-2k_synth-128x128.py']
train_dataloader = dict(
    dataset=dict(_delete_=True, type='BlankTextDataset',
                 dataset={{_base_.train_dataloader.dataset}}))
val_dataloader = dict(
    dataset=dict(_delete_=True, type='BlankTextDataset',
                 dataset={{_base_.val_dataloader.dataset}}))
test_dataloader = dict(
    dataset=dict(_delete_=True, type='BlankTextDataset',
                 dataset={{_base_.test_dataloader.dataset}}))
