# Ablation row 3 = the full small BTDNet (synthetic, CPU): BSC + T-BTD + D-MOLS on the LAVT demo
# schedule and the pretrained MiniLM-L6 (384-d) text encoder.
_base_ = ['./btdnet-abl2-bsc-tbtd_swin-tiny_minilm_1xb16-2k_synth-128x128.py']
model = dict(
    reconstruct_head=dict(
        _delete_=True,  # None in the base (row 2)
        type='EntityReconstructHead',
        visual_channels=256,
        num_layers=2,
        num_heads=8,
        ffn_ratio=4,
        memory_index=-1,
        tie_word_embeddings=True,
        loss_weight=0.1),
    p_erase=0.5,
    dmols_mode='single_pass',
    rec_query='text',
    entity_source='category+nouns')
