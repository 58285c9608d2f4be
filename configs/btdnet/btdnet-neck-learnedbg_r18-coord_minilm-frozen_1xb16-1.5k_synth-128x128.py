# Ladder row 3fl: row 3f (BTDNet on the demo recipe, D-MOLS feature target in the side branch)
# with the learned, expression-free background query of row 2l.
_base_ = ['./btdnet-neck_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']
model = dict(decode_head=dict(bg_query='learned'))
