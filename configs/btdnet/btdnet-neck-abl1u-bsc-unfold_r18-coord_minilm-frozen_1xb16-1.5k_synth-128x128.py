# Ladder row 1u: row 1 with DMMI-style spatial context in BSC (k x k neighbourhoods k = 1, 3, 5
# for text -> image, word n-grams n = 1, 2, 3 for image -> text, learned softmax mixing).
_base_ = ['./btdnet-neck-abl1-bsc_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']
model = dict(neck=dict(bsc_cfg=dict(spatial_context='unfold_multi')))
