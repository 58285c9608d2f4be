# LGCE on RefSegRS with the RRSECS port's computation (LGCENeck variant='port', see README.md):
# guide = plain mean of all 20 word features through Linear(768 -> C) on Swin stages 3 and 4,
# [guide; pixels] through timm ViT blocks (stage 3: 1 block, 8 heads; stage 4: 3 blocks, 16
# heads; MLP ratio 2; no qkv bias). The port's cross-scale fusion never reaches its output and
# is not built. The recipe is the rrsis one of lgce_swin-b-w12_bert-base_1xb8-40e_refsegrs.
_base_ = ['./lgce_swin-b-w12_bert-base_1xb8-40e_refsegrs-480x480.py']
model = dict(
    neck=dict(
        _delete_=True,
        type='LGCENeck',
        in_channels=[128, 256, 512, 1024],
        text_channels=768,
        stage_pair=(2, 3),
        variant='port',
        num_heads=(8, 16),
        depth=(1, 3),
        mlp_ratio=2,
        qkv_bias=False))
