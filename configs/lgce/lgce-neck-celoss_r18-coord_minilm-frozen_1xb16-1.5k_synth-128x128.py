# The LGCE row of the BTDNet ladder (lgce-neck_r18-coord_minilm-frozen_1xb16-1.5k_synth-
# 128x128.py) trained with LGCE's own loss, the weighted CE only (no Dice).
_base_ = ['./lgce-neck_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']
model = dict(decode_head=dict(loss_decode=[
    dict(type='CrossEntropyLoss', use_sigmoid=False, class_weight=[0.9, 1.1], loss_weight=1.0)
]))
