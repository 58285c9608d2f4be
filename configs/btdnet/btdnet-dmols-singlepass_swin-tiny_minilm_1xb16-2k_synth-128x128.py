# Ablation (the previous default, for reference): D-MOLS 'single_pass' - the erased text is the
# text of the whole forward for the chosen samples; token target over every entity word.
_base_ = ['./btdnet_swin-tiny_minilm_1xb16-2k_synth-128x128.py']
model = dict(
    loss_dmols=dict(target='token', token_scope='erased', memory='coarsest', num_layers=2,
                    loss_weight=0.1),
    dmols_mode='single_pass',
    erase='all_entities')
