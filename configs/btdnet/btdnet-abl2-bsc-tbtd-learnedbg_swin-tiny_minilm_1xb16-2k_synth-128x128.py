# Ablation row 2 with a learned, expression-free background query in T-BTD ("category-agnostic
# areas").
_base_ = ['./btdnet-abl2-bsc-tbtd_swin-tiny_minilm_1xb16-2k_synth-128x128.py']
model = dict(decode_head=dict(bg_query='learned'))
