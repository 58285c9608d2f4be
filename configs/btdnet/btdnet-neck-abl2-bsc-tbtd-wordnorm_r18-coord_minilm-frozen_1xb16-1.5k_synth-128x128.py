# Ladder row 2n: row 2 (BSC + T-BTD, no D-MOLS) with BSC's text_update_norm (the image -> text
# message LayerNormed before the word update; configs/btdnet/README.md, "word collapse").
_base_ = ['./btdnet-neck-abl2-bsc-tbtd_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']
model = dict(neck=dict(bsc_cfg=dict(text_update_norm=True)))
