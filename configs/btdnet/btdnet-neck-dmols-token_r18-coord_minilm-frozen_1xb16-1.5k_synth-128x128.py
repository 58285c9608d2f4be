# Ladder row 3t: row 3f with the vocabulary target (CE over the erased pieces, tied MiniLM
# word embeddings, weight 0.1).
_base_ = ['./btdnet-neck_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']
model = dict(loss_dmols=dict(target='token', token_scope='erased', loss_weight=0.1))
