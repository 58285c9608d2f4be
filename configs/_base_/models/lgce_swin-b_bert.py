# LGCE (Yuan et al., TGRS 2024, https://arxiv.org/abs/2306.08625): LAVT's Swin-B (window 12)
# with PWAM + gate after every stage, the language-guided cross-scale enhancement neck on
# stages 3 and 4 (an interpretation, see configs/lgce/README.md), LAVT head, weighted CE.
_base_ = './lavt_swin-b_bert.py'
# zhu-xlab/rrsis train.py keeps the best checkpoint by the test split's oIoU
selection = dict(official_split='test')
model = dict(
    neck=dict(
        type='LGCENeck',
        in_channels=[128, 256, 512, 1024],
        text_channels=768,
        stage_pair=(2, 3),
        num_heads=8,
        mlp_ratio=4,
        depth=1,
        masked_mean=True))
# the official total batch (GPUs x images per GPU); MMEngine scales the lr with the total batch
# only if enabled (`--cfg-options auto_scale_lr.enable=True`)
auto_scale_lr = dict(enable=False, base_batch_size=8)
