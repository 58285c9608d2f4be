# Ladder row 2l: row 2 with a learned, expression-free background query in T-BTD.
_base_ = ['./btdnet-neck-abl2-bsc-tbtd_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']
model = dict(decode_head=dict(bg_query='learned'))
