# Copyright (c) mmrrsis contributors. All rights reserved.
import os
import os.path as osp
from typing import Optional

#: Words of the tiny test vocabulary (spatial words, colours, categories of the data sets).
TINY_VOCAB = (
    'the', 'a', 'an', 'of', 'on', 'in', 'at', 'to', 'and', 'with', 'near', 'next', 'by', 'is',
    'left', 'right', 'top', 'bottom', 'upper', 'lower', 'center', 'middle', 'above', 'below',
    'small', 'large', 'big', 'red', 'blue', 'white', 'black', 'yellow', 'green', 'grey', 'gray',
    'brown', 'car', 'vehicle', 'van', 'truck', 'road', 'building', 'roof', 'storage', 'tank',
    'tree', 'field', 'water', 'ship', 'bridge', 'plane', 'airplane', 'house', 'one', 'two')


def make_tiny_bert(out_dir: str,
                   hidden_size: int = 32,
                   num_layers: int = 2,
                   num_heads: int = 2,
                   weights: bool = True,
                   seed: int = 0,
                   vocab: Optional[tuple] = None) -> str:
    """Write a tiny BERT (config, WordPiece vocabulary, tokenizer files, random weights) to
    ``out_dir`` so that ``HFTextEncoder(name_or_path=out_dir)`` works offline.

    Returns:
        str: ``out_dir``.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel
    os.makedirs(out_dir, exist_ok=True)
    words = list(vocab or TINY_VOCAB)
    config = BertConfig(
        vocab_size=5 + len(words), hidden_size=hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=num_heads, intermediate_size=2 * hidden_size,
        max_position_embeddings=64)
    config.save_pretrained(out_dir)
    with open(osp.join(out_dir, 'vocab.txt'), 'w') as f:
        f.write('\n'.join(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', *words]) + '\n')
    AutoTokenizer.from_pretrained(out_dir).save_pretrained(out_dir)
    if weights:
        torch.manual_seed(seed)
        BertModel(config, add_pooling_layer=False).save_pretrained(out_dir)
    return out_dir


def tiny_segmentor_cfg(text_dir: str, text_dim: int = 32, backbone: str = 'lavt') -> dict:
    """A tiny ``RRSISEncoderDecoder`` config (LAVT Swin or ResNet + fusion neck) for tests."""
    text_encoder = dict(type='HFTextEncoder', name_or_path=text_dir, max_tokens=12,
                        pretrained=True)
    head = dict(type='LAVTHead', in_channels=[16, 32, 64, 128], in_index=[0, 1, 2, 3],
                channels=16, num_classes=2, norm_cfg=dict(type='BN', requires_grad=True),
                align_corners=True,
                loss_decode=dict(type='CrossEntropyLoss', class_weight=[0.9, 1.1]))
    if backbone == 'lavt':
        backbone_cfg = dict(
            type='LAVTSwinTransformer', pretrain_img_size=64, embed_dims=16, depths=[1, 1, 1, 1],
            num_heads=[1, 2, 2, 4], window_size=4, text_dim=text_dim, drop_path_rate=0.0)
        neck = None
    elif backbone == 'resnet':
        backbone_cfg = dict(type='ResNetV1c', depth=18, base_channels=16, stem_channels=16,
                            out_indices=(0, 1, 2, 3), norm_cfg=dict(type='BN'),
                            zero_init_residual=False)
        head['in_channels'] = [16, 32, 64, 128]
        neck = dict(type='LanguageFusionNeck', in_channels=[16, 32, 64, 128], text_dim=text_dim)
    else:
        raise ValueError(f'unknown tiny backbone {backbone!r}')
    cfg = dict(
        type='RRSISEncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                               seg_pad_val=255, size_divisor=32),
        text_encoder=text_encoder, backbone=backbone_cfg, decode_head=head,
        train_cfg=dict(), test_cfg=dict(mode='whole'))
    if neck is not None:
        cfg['neck'] = neck
    from mmengine.config import ConfigDict
    return ConfigDict(cfg)


def tiny_training_options(data_root: str, text_dir: str, img_size: int = 64,
                          max_iters: int = 4, val_interval: int = 2,
                          ckpt_interval: int = 2) -> dict:
    """Options (``Config.merge_from_dict`` keys) that shrink the LAVT demo config
    ``configs/lavt/lavt_swin-tiny_minilm_1xb16-2k_synth-128x128.py`` to a few seconds on the
    CPU: a tiny offline text encoder, one Swin block per stage, ``img_size`` px, batch 2, no
    dataloader workers. ``[f'{k}={v}' for k, v in options.items()]`` gives the same as
    ``--cfg-options`` of the tools.
    """
    size = (img_size, img_size)
    opts = {
        'model.text_encoder.name_or_path': text_dir,
        'model.text_encoder.trainable_layers': None,
        'model.backbone.text_dim': 32,
        'model.backbone.depths': [1, 1, 1, 1],
        'model.backbone.pretrain_img_size': img_size,
        'model.data_preprocessor.size': size,
        'train_dataloader.batch_size': 2,
        'train_cfg.max_iters': max_iters,
        'train_cfg.val_interval': val_interval,
        'default_hooks.checkpoint.interval': ckpt_interval,
        'default_hooks.logger.interval': 1,
    }
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts[f'{loader}.dataset.data_root'] = data_root
        opts[f'{loader}.num_workers'] = 0
        opts[f'{loader}.persistent_workers'] = False
        opts[f'{loader}.dataset.pipeline.2.scale'] = size  # the Resize step of synth.py
    return opts
