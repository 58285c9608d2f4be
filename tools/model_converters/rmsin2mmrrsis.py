# Copyright (c) mmrrsis contributors. All rights reserved.
"""Convert an official RMSIN checkpoint (Lsan2401/RMSIN) to mmrrsis.

The result loads with ``strict=True`` into the model of ``configs/rmsin/*`` (``RRSISEncoderDecoder``
with ``RMSINSwinTransformer``, ``CIMNeck``, ``RMSINHead`` and ``HFTextEncoder``; through
``load_from=DST``). RMSIN is LAVT's ``lavt_one`` (BERT inside ``checkpoint['model']`` as
``text_encoder.*``, an ``argparse.Namespace`` under ``args``) with these additions; everything
else is converted by ``lavt2mmrrsis.py``'s rules (Swin, PWAM, gates, decoder, BERT)::

    backbone.layers.i.visual_residual.*        -> backbone.visual_branches.i.*
    backbone.layers.i.visual_gate.{0,2}.weight -> backbone.visual_gates.i.gate.{0,2}.weight
    last stage: visual branch and gate         -> dropped (their result feeds nothing)
    backbone.cim.{down_channel,up_channel,bn}  -> neck.{channel_down,channel_up,norm}
    backbone.cim.block.k.csa{1,2}.m.
        bn1 / DWConv1 / DWConv2 / bn4 / conv   -> neck.blocks.k.csa{1,2}.bn1 / dwconv1 / dwconv2
                                                  / bn4 / conv
        attention.qkv.c / attention.qkv.bn     -> neck.blocks.k.csa{1,2}.qkv / qkv_bn
        attention.parallel_conv.1              -> neck.blocks.k.csa{1,2}.parallel_conv
        attention.{proj,to_out}                -> neck.blocks.k.csa{1,2}.{proj,to_out}
    backbone.cim.block.k.intra_ff.m.ffj.m.*    -> neck.blocks.k.intra_ff.ffs.(j-1).*
    backbone.cim.block.k.ff.m.*                -> neck.blocks.k.ff.*
    backbone.cim.fusion.i.{local_embedding,bn1} -> neck.local_embeds.i.{conv,bn}
    backbone.cim.fusion.i.{global_embedding,bn2} -> neck.global_embeds.i.{conv,bn}
    backbone.cim.fusion.i.{global_act,bn3}     -> neck.global_acts.i.{conv,bn}
    classifier.conv2_{4,3,2}.weight (5-D ARC)  -> decode_head.fuse_layers.{2,1,0}.1.conv.weight
    classifier.conv2_k.rounting_func.{dwc,norm.norm,fc_alpha,fc_theta}.*
                                               -> decode_head.fuse_layers.*.1.conv.routing.
                                                  {dwc,norm,fc_alpha,fc_theta}.*

The gates' 1x1 convolutions have a bias followed by BatchNorm in RMSIN; ``CIMNeck`` builds them
without (``ConvModule``): the bias is folded exactly into the BatchNorm's running mean. Works for
any Swin width and depth (nothing is read from a fixed size). Every source tensor is converted,
dropped for a stated reason, or reported as unmapped; ``--strict`` writes nothing then.

Example::

    python tools/model_converters/rmsin2mmrrsis.py model_best_RMSIN.pth \
        pretrain/rmsin_rrsisd_mmrrsis.pth
"""
import importlib.util
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple

import torch

_spec = importlib.util.spec_from_file_location(
    '_lavt2mmrrsis', osp.join(osp.dirname(osp.abspath(__file__)), 'lavt2mmrrsis.py'))
lavt2mmrrsis = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lavt2mmrrsis)

_CSA = (('attention.qkv.c.', 'qkv.'), ('attention.qkv.bn.', 'qkv_bn.'),
        ('attention.parallel_conv.1.', 'parallel_conv.'), ('attention.proj.', 'proj.'),
        ('attention.to_out.', 'to_out.'), ('DWConv1.', 'dwconv1.'), ('DWConv2.', 'dwconv2.'),
        ('bn1.', 'bn1.'), ('bn4.', 'bn4.'), ('conv.', 'conv.'))
_DECODER_STEPS = {'4': 2, '3': 1, '2': 0}


def _convert_cim_key(rest: str) -> Optional[str]:
    for src, dst in (('down_channel.', 'channel_down.'), ('up_channel.', 'channel_up.'),
                     ('bn.', 'norm.')):
        if rest.startswith(src):
            return 'neck.' + dst + rest[len(src):]
    m = re.fullmatch(r'block\.(\d+)\.(csa[12])\.m\.(.+)', rest)
    if m:
        for src, dst in _CSA:
            if m[3].startswith(src):
                return f'neck.blocks.{m[1]}.{m[2]}.{dst}{m[3][len(src):]}'
        return None
    m = re.fullmatch(r'block\.(\d+)\.intra_ff\.m\.ff(\d+)\.m\.(.+)', rest)
    if m:
        return f'neck.blocks.{m[1]}.intra_ff.ffs.{int(m[2]) - 1}.{m[3]}'
    m = re.fullmatch(r'block\.(\d+)\.ff\.m\.(.+)', rest)
    if m:
        return f'neck.blocks.{m[1]}.ff.{m[2]}'
    return lavt2mmrrsis.gate_fusion_key(rest)


def _convert_rmsin_key(key: str, last_stage: int) -> Tuple[Optional[str], str, bool]:
    """An RMSIN-only key -> (mmrrsis key or None, drop reason, is an RMSIN key)."""
    m = re.fullmatch(r'backbone\.layers\.(\d+)\.(visual_residual|visual_gate)\.(.+)', key)
    if m:
        stage, part, rest = m[1], m[2], m[3]
        if int(stage) == last_stage:
            return None, ('last-stage visual branch / gate (their result feeds nothing; '
                          'RMSINSwinTransformer does not build them)'), True
        if part == 'visual_residual':
            return f'backbone.visual_branches.{stage}.{rest}', '', True
        return f'backbone.visual_gates.{stage}.gate.{rest}', '', True
    if key.startswith('backbone.cim.'):
        return _convert_cim_key(key[len('backbone.cim.'):]), '', True
    m = re.fullmatch(r'classifier\.conv2_([432])\.rounting_func\.(.+)', key)
    if m:
        rest = m[2].replace('norm.norm.', 'norm.')
        return (f'decode_head.fuse_layers.{_DECODER_STEPS[m[1]]}.1.conv.routing.{rest}', '',
                True)
    return None, '', False


def convert_rmsin(
    model_state: Mapping[str, torch.Tensor]
) -> Tuple['OrderedDict[str, torch.Tensor]', Dict[str, str], List[str]]:
    """Convert an RMSIN ``ckpt['model']`` to an mmrrsis state dict.

    Returns:
        tuple: ``(state_dict, dropped, unmapped)`` as :func:`lavt2mmrrsis.convert_lavt`.
    """
    return lavt2mmrrsis.convert_lavt_family(model_state, _convert_rmsin_key)


def main(argv=None) -> int:
    return lavt2mmrrsis.converter_main(
        argv, "Convert an official RMSIN (Lsan2401/RMSIN, lavt_one layout: BERT inside "
        "checkpoint['model']) checkpoint to mmrrsis.",
        'official RMSIN checkpoint (e.g. model_best_RMSIN.pth)', convert_rmsin)

if __name__ == '__main__':
    sys.exit(main())
