# Ladder row 3fn: row 3f (BTDNet on the demo recipe) with BSC's image -> text message
# LayerNormed before it becomes a word update (text_update_norm): the update no longer scales
# with the ResNet features, which is what collapsed the words in some synth-hard runs
# (configs/btdnet/README.md, "word collapse").
_base_ = ['./btdnet-neck_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']
model = dict(neck=dict(bsc_cfg=dict(text_update_norm=True)))
