# Ablation row 3 = the full small BTDNet (synthetic, CPU): BSC + T-BTD + D-MOLS on the LAVT demo
# schedule and the pretrained MiniLM-L6 (384-d) text encoder. D-MOLS is the loss component
# `loss_dmols` (DMOLSLoss) in its side-branch mode: segmentation always on the full text, the
# erased text only queries the reconstruction (see README.md, "D-MOLS").
_base_ = ['./btdnet-abl2-bsc-tbtd_swin-tiny_minilm_1xb16-2k_synth-128x128.py']
model = dict(
    loss_dmols=dict(
        _delete_=True,  # None in the base (row 2)
        type='DMOLSLoss',
        target='feature',  # 'feature' | 'token'
        feature_source='updated',  # 'encoded' | 'updated' (after the last BSC)
        token_scope='all',  # 'all' real tokens | 'erased' pieces
        memory='1/8',  # 'coarsest' | '1/8' | 'mci'
        num_layers=1,
        num_heads=8,
        ffn_ratio=4,
        loss_weight=0.01,
        loss_name='loss_rec'),
    p_erase=0.5,
    dmols_mode='side_branch',  # 'side_branch' | 'single_pass' | 'second_pass'
    erase='one_run',  # 'one_run' | 'all_entities'
    rec_query='text',
    entity_source='category+nouns')
