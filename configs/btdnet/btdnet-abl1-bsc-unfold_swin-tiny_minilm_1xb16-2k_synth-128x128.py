# Ablation row 1 with DMMI-style spatial context in BSC: separate text->image (k x k visual
# neighbourhoods, k = 1, 3, 5) and image->text (word n-grams, n = 1, 2, 3) correlations mixed by
# learned softmax weights.
_base_ = ['./btdnet-abl1-bsc_swin-tiny_minilm_1xb16-2k_synth-128x128.py']
model = dict(backbone=dict(bsc_cfg=dict(spatial_context='unfold_multi')))
