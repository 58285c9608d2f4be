# synth-hard: the synthetic set's hard variant (generate_synthetic.py --difficulty hard), built
# from the challenges named in BTDNet's abstract: small and clustered same-category targets,
# blurred low-contrast edges, object-coloured clutter, longer compositional expressions.
# Same on-disk format (RefSegRS layout), same pipelines as synth.py.
_base_ = ['./synth.py']
data_root = 'data/synth-hard'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
