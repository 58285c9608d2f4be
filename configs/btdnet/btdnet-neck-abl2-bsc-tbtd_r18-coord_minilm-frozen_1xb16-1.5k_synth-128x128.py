# Ladder row 2 (+BSC +T-BTD): row 1 with the demo's T-BTD head (LAVT map as MCI, coordinates);
# the head reads the words, so the last level updates them too.
_base_ = ['./btdnet-neck-abl1-bsc_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']
model = dict(
    neck=dict(bidirectional=True),
    decode_head=dict(_base_.tbtd_head, mci='lavt', coord_feats=True))
