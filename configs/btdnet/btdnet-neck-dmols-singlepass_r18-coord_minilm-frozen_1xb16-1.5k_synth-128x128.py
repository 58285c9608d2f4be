# Ladder row 3s (the former default, for reference): D-MOLS single_pass - the segmentation of
# the chosen half of the samples runs on the erased text; every entity word erased; token target
# over the coarsest map with two decoder layers, weight 0.1.
_base_ = ['./btdnet-neck_r18-coord_minilm-frozen_1xb16-1.5k_synth-128x128.py']
model = dict(
    loss_dmols=dict(target='token', token_scope='erased', memory='coarsest', num_layers=2,
                    loss_weight=0.1),
    dmols_mode='single_pass',
    erase='all_entities')
