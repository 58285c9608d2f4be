# RMSIN (Liu et al., CVPR 2024, https://arxiv.org/abs/2312.12470): LAVT's Swin-B (window 12) with
# PWAM + gate and a visual branch + gate after every stage (intra-scale interaction), the
# cross-scale interaction module as a neck, and LAVT's decoder with adaptive rotated
# convolutions; bert-base-uncased (20 tokens, layers 0-9 trained); 0.9 x weighted CE + 0.1 x
# Dice. The neck and head widths follow the backbone (RMSINEncoderDecoder): only the Swin
# arguments set them.
_base_ = ['./lavt_swin-b_bert.py']
# the official train.py: seed 2401 (cudnn.deterministic is not set here: MMEngine's
# deterministic=True also calls torch.use_deterministic_algorithms, which refuses CUDA's
# bilinear-upsampling backward)
randomness = dict(seed=2401)
model = dict(
    type='RMSINEncoderDecoder',
    # BERT inside the model, which the official train.py puts in train mode: dropout everywhere
    text_encoder=dict(dropout='all'),
    backbone=dict(type='RMSINSwinTransformer'),
    neck=dict(
        type='CIMNeck',
        in_channels=None,  # the backbone's stage widths
        grid=(15, 15),  # the last stage at 480x480; other sizes are pooled to it (README)
        num_blocks=1),
    decode_head=dict(
        _delete_=True,
        type='RMSINHead',
        in_channels=None,  # the backbone's stage widths
        channels=None,  # half the last width (512 for Swin-B)
        in_index=[0, 1, 2, 3],
        num_classes=2,
        kernel_number=1,
        routing_dropout=0.2,
        max_angle=40.0,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=True,
        init_mode='pytorch',
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=False, class_weight=[0.9, 1.1],
                 loss_weight=0.9),
            dict(type='RefDiceLoss', loss_weight=0.1),
        ]))
# the official total batch (GPUs x images per GPU); MMEngine scales the lr with the total batch
# only if enabled (`--cfg-options auto_scale_lr.enable=True`)
auto_scale_lr = dict(enable=False, base_batch_size=8)
