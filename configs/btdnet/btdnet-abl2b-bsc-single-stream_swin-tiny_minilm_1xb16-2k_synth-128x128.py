# Ablation control of row 2 (synthetic): T-BTD with the foreground stream only.
_base_ = ['./btdnet-abl2-bsc-tbtd_swin-tiny_minilm_1xb16-2k_synth-128x128.py']
model = dict(decode_head=dict(single_stream=True))
