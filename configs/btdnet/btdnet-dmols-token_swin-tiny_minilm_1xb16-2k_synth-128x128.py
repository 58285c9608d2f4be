# Ablation: D-MOLS side branch with the vocabulary target (cross-entropy over the erased pieces,
# tied word embeddings) instead of the feature target.
_base_ = ['./btdnet_swin-tiny_minilm_1xb16-2k_synth-128x128.py']
model = dict(loss_dmols=dict(target='token', token_scope='erased', loss_weight=0.1))
