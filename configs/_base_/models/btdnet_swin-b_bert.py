# BTDNet (Zhang et al., arXiv 2502.08486) as interpreted in configs/btdnet/README.md: the LAVT
# model (Swin-B window 12, bert-base-uncased) with BSC instead of PWAM after every stage, the
# T-BTD twin-stream head and D-MOLS (entity-word erasure + reconstruction, training only).
_base_ = ['./lavt_swin-b_bert.py']
norm_cfg = dict(type='SyncBN', requires_grad=True)
# BTDNet trains with RMSIN's recipe (README.md): RMSIN's seed and BERT dropout regime
randomness = dict(seed=2401)
model = dict(
    type='BTDNetEncoderDecoder',
    text_encoder=dict(dropout='all'),
    backbone=dict(
        type='BSCSwinTransformer',
        fusion_stages=(0, 1, 2, 3),
        bidirectional_stages=(0, 1, 2, 3),  # bsc.stages
        bsc_cfg=dict(
            num_heads=1,
            spatial_context='multi_dilation',  # 'none' | 'dwconv' | 'multi_dilation'
            context_dilations=(1, 2, 3),
            share_correlation=True,
            text_norm=False,
            # LayerNorm on the image->text message before the word update: without it 3 of 15
            # synth-hard ladder runs collapsed every word to one vector ("word collapse" in
            # configs/btdnet/README.md); with it no run did, at the same mean oIoU
            text_update_norm=True)),
    decode_head=dict(
        _delete_=True,
        type='TBTDHead',
        in_channels=[128, 256, 512, 1024],
        in_index=[0, 1, 2, 3],
        channels=256,
        text_dim=768,
        num_classes=2,
        mci='aspp',  # 'aspp' | 'concat' | 'lavt'
        dilations=(1, 3, 6, 9),
        query_decoder=True,
        query_heads=8,
        # background query: 'text' | 'learned' (does not read the expression); the ladder
        # (configs/btdnet/README.md) favours 'learned' without D-MOLS, not with it
        bg_query='text',
        combine='softmax_pair',  # 'softmax_pair' | 'product'
        single_stream=False,
        lambda_aux=0.4,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=False, class_weight=[0.9, 1.1],
                 loss_weight=0.9),
            dict(type='RefDiceLoss', loss_weight=0.1),
        ]),
    # D-MOLS (training only; set to None to disable): one loss component
    loss_dmols=dict(
        type='DMOLSLoss',
        target='feature',  # 'feature' | 'token'
        feature_source='updated',  # 'encoded' | 'updated' (after the last BSC)
        token_scope='all',  # 'all' real tokens | 'erased' pieces
        memory='1/8',  # 'coarsest' | '1/8' | 'mci'
        num_layers=1,
        num_heads=8,
        ffn_ratio=4,
        loss_weight=0.01,  # lambda_re
        loss_name='loss_rec'),
    p_erase=0.5,
    dmols_mode='side_branch',  # 'side_branch' | 'single_pass' | 'second_pass'
    erase='one_run',  # 'one_run' | 'all_entities'
    rec_query='text',  # pass modes: 'text' | 'updated_text'
    entity_source='category+nouns')  # 'category+nouns' | 'category'
# the official total batch (GPUs x images per GPU); MMEngine scales the lr with the total batch
# only if enabled (`--cfg-options auto_scale_lr.enable=True`)
auto_scale_lr = dict(enable=False, base_batch_size=8)
