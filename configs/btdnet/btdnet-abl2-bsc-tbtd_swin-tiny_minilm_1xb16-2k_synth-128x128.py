# Ablation row 2 (synthetic): LAVT + BSC + T-BTD (no D-MOLS).
_base_ = [
    './btdnet-abl1-bsc_swin-tiny_minilm_1xb16-2k_synth-128x128.py',
    '../_base_/models/tbtd-head_swin-tiny_minilm.py'
]
model = dict(decode_head={{_base_.tbtd_head}})
