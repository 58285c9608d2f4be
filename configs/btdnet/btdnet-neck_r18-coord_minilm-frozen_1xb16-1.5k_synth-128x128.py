# Ladder row 3f = BTDNet on the demo recipe: row 2 + D-MOLS as one loss component (side
# branch: segmentation always on the full text; the erased words of one entity run query the
# reconstruction over the 1/8 fused map; target: the detached full-text words after the last
# BSC, cosine distance over the real tokens, weight 0.01).
_base_ = ['./btdnet-neck-abl2-bsc-tbtd_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']
model = dict(
    loss_dmols=dict(
        _delete_=True,
        type='DMOLSLoss',
        target='feature',
        feature_source='updated',
        token_scope='all',
        memory='1/8',
        num_layers=1,
        num_heads=8,
        ffn_ratio=4,
        loss_weight=0.01,
        loss_name='loss_rec'),
    p_erase=0.5,
    dmols_mode='side_branch',
    erase='one_run',
    entity_source='category+nouns')
