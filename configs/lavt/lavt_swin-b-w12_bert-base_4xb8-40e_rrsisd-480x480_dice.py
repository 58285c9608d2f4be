# LAVT on RRSIS-D with the RMSIN/FIANet loss: 0.9 * weighted CE + 0.1 * Dice (reference semantics).
_base_ = './lavt_swin-b-w12_bert-base_4xb8-40e_rrsisd-480x480.py'
model = dict(
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, class_weight=[0.9, 1.1],
             loss_weight=0.9),
        dict(type='RefDiceLoss', loss_weight=0.1),
    ]))
