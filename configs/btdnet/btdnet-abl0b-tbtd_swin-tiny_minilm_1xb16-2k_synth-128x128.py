# Ablation control (synthetic): the T-BTD head on the plain LAVT backbone (PWAM, no BSC), i.e.
# row 0 with row 2's head, to separate the head's effect from BSC's. The plain segmentor hands
# the encoder's words (not BSC-updated ones) to the head.
_base_ = [
    '../lavt/lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py',
    '../_base_/models/tbtd-head_swin-tiny_minilm.py'
]
model = dict(decode_head={{_base_.tbtd_head}})
