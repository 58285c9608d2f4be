# Copyright (c) mmrrsis contributors. All rights reserved.
"""Convert an official FIANet checkpoint (Shaosifan/FIANet) to mmrrsis.

The result loads into ``FIANetEncoderDecoder`` with ``FIANetSwinTransformer``, ``TMEMNeck``,
``LAVTHead`` and ``DecoupledTextEncoder`` (``configs/fianet/*.py`` through ``load_from=DST``).
FIANet is LAVT (``lavt_one``: BERT inside the model) with these additions; everything else is
converted by ``lavt2mmrrsis.py``'s rules (Swin, decoder, BERT)::

    backbone.layers.i.context_pixel_attn.*          -> backbone.pwams.i.*
    backbone.layers.i.context_tanh_gate.{0,2}.*     -> backbone.gates.i.gate.{0,2}.*
    backbone.layers.i.fc{1,2}.*                     -> backbone.channel_mods.i.fc.{0,2}.*
    backbone.layers.i.object_position_align_blk.
        go_cross_attn.*                             -> backbone.opabs.i.object_att.*
        go_tanh_gating.{0,2}.*                      -> backbone.opabs.i.object_gate.gate.{0,2}.*
        sp_cross_attn.*                             -> backbone.opabs.i.position_att.*
        conv1.weight                                -> backbone.opabs.i.spatial_conv.weight
        go_embedding.weight                         -> dropped (never used by FIANet)
    last stage: gate, channel modulation, OPAB      -> dropped (their result feeds nothing)
    backbone.tmem.down_channel / up_channel / bn    -> neck.channel_down / channel_up / norm
    backbone.tmem.block.k.{norm1,tma,norm2,ff.net}  -> neck.blocks.k.{norm1,cross_attn,norm2,ffn}
    backbone.tmem.fusion.i.{local_embedding,bn1}    -> neck.local_embeds.i.{conv,bn}
    backbone.tmem.fusion.i.{global_embedding,bn2}   -> neck.global_embeds.i.{conv,bn}
    backbone.tmem.fusion.i.{global_act,bn3}         -> neck.global_acts.i.{conv,bn}

The scale-aware gates' 1x1 convolutions have a bias in FIANet, followed by BatchNorm;
``TMEMNeck`` builds them without (``ConvModule`` with a norm). The bias is folded exactly into
the BatchNorm's running mean (``running_mean - bias``), so inference is unchanged; fine-tuning
in train mode is unaffected too (BatchNorm removes any per-channel constant).

The key names were read from copies of the FIANet code (``lib/backbone.py``: ``MMBasicLayer``,
``OPAB`` in Xiangbinhao/FIANet-Exp; ``lib/text_aware_multiscale_enhancement.py``: ``TMEM`` in
zyGao1126/DiCoR), as the official repository's model files could not be read; no released
checkpoint was available to test with. ``--strict`` reports any key these rules do not know.

Example::

    python tools/model_converters/fianet2mmrrsis.py fianet_rrsisd.pth \
        pretrain/fianet_rrsisd_mmrrsis.pth
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



def _convert_fianet_key(key: str, last_stage: int) -> Tuple[Optional[str], str]:
    """A FIANet-only key -> (mmrrsis key or None, drop reason); ``(None, '')`` if not one."""
    m = re.fullmatch(r'backbone\.layers\.(\d+)\.(context_pixel_attn|context_tanh_gate|fc[12]|'
                     r'object_position_align_blk)\.(.+)', key)
    if m:
        stage, part, rest = m[1], m[2], m[3]
        if part == 'context_pixel_attn':
            return f'backbone.pwams.{stage}.{rest}', ''
        if int(stage) == last_stage:
            return None, ('last-stage gate / channel modulation / OPAB (their result feeds '
                          'nothing; FIANetSwinTransformer does not build them)')
        if part == 'context_tanh_gate':
            return f'backbone.gates.{stage}.gate.{rest}', ''
        if part in ('fc1', 'fc2'):
            return f'backbone.channel_mods.{stage}.fc.{0 if part == "fc1" else 2}.{rest}', ''
        prefix = f'backbone.opabs.{stage}.'
        for src, dst in (('go_cross_attn.', 'object_att.'),
                         ('go_tanh_gating.', 'object_gate.gate.'),
                         ('sp_cross_attn.', 'position_att.'), ('conv1.', 'spatial_conv.')):
            if rest.startswith(src):
                return prefix + dst + rest[len(src):], ''
        if rest.startswith('go_embedding.'):
            return None, 'OPAB.go_embedding (defined but never used by FIANet)'
        return None, ''
    m = re.fullmatch(r'backbone\.tmem\.(.+)', key)
    if not m:
        return None, ''
    rest = m[1]
    for src, dst in (('down_channel.', 'channel_down.'), ('up_channel.', 'channel_up.'),
                     ('bn.', 'norm.')):
        if rest.startswith(src):
            return 'neck.' + dst + rest[len(src):], ''
    m = re.fullmatch(r'block\.(\d+)\.(norm1|tma|norm2|ff\.net)\.(.+)', rest)
    if m:
        dst = {'norm1': 'norm1', 'tma': 'cross_attn', 'norm2': 'norm2', 'ff.net': 'ffn'}[m[2]]
        return f'neck.blocks.{m[1]}.{dst}.{m[3]}', ''
    return lavt2mmrrsis.gate_fusion_key(rest), ''


def convert_fianet(
    model_state: Mapping[str, torch.Tensor]
) -> Tuple['OrderedDict[str, torch.Tensor]', Dict[str, str], List[str]]:
    """Convert a FIANet ``ckpt['model']`` to an mmrrsis ``FIANetEncoderDecoder`` state dict.

    Returns:
        tuple: ``(state_dict, dropped, unmapped)`` as :func:`lavt2mmrrsis.convert_lavt`.
    """
    def own_key(key: str, last_stage: int):
        new_key, reason = _convert_fianet_key(key, last_stage)
        return new_key, reason, key.startswith('backbone.tmem.')

    return lavt2mmrrsis.convert_lavt_family(model_state, own_key)


def main(argv=None) -> int:
    return lavt2mmrrsis.converter_main(
        argv, "Convert an official FIANet (Shaosifan/FIANet, lavt_one layout: BERT inside "
        "checkpoint['model']) checkpoint to mmrrsis.", 'official FIANet checkpoint',
        convert_fianet)

if __name__ == '__main__':
    sys.exit(main())
