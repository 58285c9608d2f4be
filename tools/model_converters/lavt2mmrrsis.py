# Copyright (c) mmrrsis contributors. All rights reserved.
"""Convert an official LAVT checkpoint (yz93/LAVT-RIS) to mmrrsis.

The result loads into ``RRSISEncoderDecoder`` with ``LAVTSwinTransformer``, ``LAVTHead`` and
``HFTextEncoder`` (e.g. ``configs/lavt/lavt_swin-b-w12_bert-base_4xb8-40e_refsegrs-480x480.py``
through ``load_from=DST``). Both reference variants are understood:

- ``lavt_one``: BERT inside the model, ``ckpt['model']`` holds ``text_encoder.*``;
- ``lavt``: a separate BERT, ``ckpt['bert_model']`` (or a file given with ``--bert-src``).

Mapping (official -> mmrrsis)::

    backbone.patch_embed.proj.*            -> backbone.patch_embed.projection.*
    backbone.layers.i.blocks.j.attn.*      -> backbone.stages.i.blocks.j.attn.w_msa.*
    backbone.layers.i.blocks.j.mlp.fc1.*   -> backbone.stages.i.blocks.j.ffn.layers.0.0.*
    backbone.layers.i.blocks.j.mlp.fc2.*   -> backbone.stages.i.blocks.j.ffn.layers.1.*
    backbone.layers.i.downsample.*         -> backbone.stages.i.downsample.*  (channels permuted
                                              from LAVT's [x0, x1, x2, x3] concat order to the
                                              order of MMSeg's nn.Unfold PatchMerging)
    backbone.layers.i.fusion.*             -> backbone.pwams.i.*
    backbone.layers.i.res_gate.*           -> backbone.gates.i.gate.*  (last stage: dropped, its
                                              output feeds nothing and mmrrsis does not build it)
    classifier.{conv,bn}{1,2}_{4,3,2}.*    -> decode_head.fuse_layers.{2,1,0}.{0,1}.{conv,bn}.*
    classifier.conv1_1.*                   -> decode_head.conv_seg.*
    text_encoder.* / bert_model            -> text_encoder.model.*

Every source tensor is either converted, dropped for a stated reason, or reported as unmapped.

Example::

    python tools/model_converters/lavt2mmrrsis.py lavt_one_refcoco.pth \
        pretrain/lavt_one_refcoco_mmrrsis.pth
"""
import argparse
import contextlib
import os
import os.path as osp
import pickle
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple

import torch

#: LAVT's PatchMerging concatenates the 2x2 neighbours as x0 (0, 0), x1 (1, 0), x2 (0, 1),
#: x3 (1, 1) (row, column offsets); nn.Unfold orders them (0, 0), (0, 1), (1, 0), (1, 1).
UNFOLD_FROM_CONCAT = (0, 2, 1, 3)

_DECODER_STEPS = {'4': 2, '3': 1, '2': 0}  # SimpleDecoding level -> LAVTHead fuse_layers index


def correct_unfold_reduction_order(weight: torch.Tensor) -> torch.Tensor:
    """(C_out, 4C) reduction weight: concat order [x0, x1, x2, x3] -> unfold order.

    Unfold puts input channel c of kernel position p at c * 4 + p; the concat at k * C + c.
    """
    out_channels, in_channels = weight.shape
    weight = weight.reshape(out_channels, 4, in_channels // 4)[:, list(UNFOLD_FROM_CONCAT)]
    return weight.transpose(1, 2).reshape(out_channels, in_channels)


def correct_unfold_norm_order(weight: torch.Tensor) -> torch.Tensor:
    """(4C,) LayerNorm weight or bias: concat order -> unfold order."""
    in_channels = weight.shape[0]
    weight = weight.reshape(4, in_channels // 4)[list(UNFOLD_FROM_CONCAT)]
    return weight.transpose(0, 1).reshape(in_channels)


def _convert_bert_key(key: str) -> Tuple[Optional[str], str]:
    """BERT key (HF BertModel naming) -> (mmrrsis key or None, reason when dropped)."""
    if key.startswith('pooler.'):
        return None, 'BERT pooler (HFTextEncoder builds none; LAVT sets it to None)'
    if key.endswith('position_ids'):
        return None, 'BERT position_ids buffer (recomputed by transformers)'
    key = re.sub(r'LayerNorm\.gamma$', 'LayerNorm.weight', key)
    key = re.sub(r'LayerNorm\.beta$', 'LayerNorm.bias', key)
    return 'text_encoder.model.' + key, ''


def _convert_model_key(key: str, value: torch.Tensor,
                       last_stage: int) -> Tuple[Optional[str], torch.Tensor, str]:
    """One key of LAVT's ``model`` state dict -> (mmrrsis key or None, value, drop reason).

    An unknown key returns ``(None, value, '')``.
    """
    m = re.fullmatch(r'backbone\.patch_embed\.proj\.(.+)', key)
    if m:
        return f'backbone.patch_embed.projection.{m[1]}', value, ''
    if re.fullmatch(r'backbone\.(patch_embed\.norm\.\w+|norm\d+\.\w+)', key):
        return key, value, ''
    if key == 'backbone.absolute_pos_embed':  # (1, C, H, W) -> MMSeg's (1, H*W, C)
        return key, value.flatten(2).transpose(1, 2).contiguous(), ''

    m = re.fullmatch(r'backbone\.layers\.(\d+)\.blocks\.(\d+)\.(.+)', key)
    if m:
        prefix, name = f'backbone.stages.{m[1]}.blocks.{m[2]}.', m[3]
        if name.startswith('attn.'):
            return prefix + 'attn.w_msa.' + name[len('attn.'):], value, ''
        if name.startswith('mlp.fc1.'):
            return prefix + 'ffn.layers.0.0.' + name[len('mlp.fc1.'):], value, ''
        if name.startswith('mlp.fc2.'):
            return prefix + 'ffn.layers.1.' + name[len('mlp.fc2.'):], value, ''
        if re.fullmatch(r'norm[12]\.\w+', name):
            return prefix + name, value, ''
        return None, value, ''

    m = re.fullmatch(r'backbone\.layers\.(\d+)\.downsample\.(reduction|norm)\.(\w+)', key)
    if m:
        if m[2] == 'reduction' and m[3] == 'weight':
            value = correct_unfold_reduction_order(value)
        elif m[2] == 'norm':
            value = correct_unfold_norm_order(value)
        else:
            return None, value, ''
        return f'backbone.stages.{m[1]}.downsample.{m[2]}.{m[3]}', value, ''

    m = re.fullmatch(r'backbone\.layers\.(\d+)\.fusion\.(.+)', key)
    if m:
        return f'backbone.pwams.{m[1]}.{m[2]}', value, ''
    m = re.fullmatch(r'backbone\.layers\.(\d+)\.res_gate\.(.+)', key)
    if m:
        if int(m[1]) == last_stage:
            return None, value, ('language gate of the last stage (its result feeds nothing; '
                                 'LAVTSwinTransformer does not build it)')
        return f'backbone.gates.{m[1]}.gate.{m[2]}', value, ''

    m = re.fullmatch(r'classifier\.(conv|bn)([12])_([234])\.(.+)', key)
    if m:
        step = _DECODER_STEPS[m[3]]
        return f'decode_head.fuse_layers.{step}.{int(m[2]) - 1}.{m[1]}.{m[4]}', value, ''
    m = re.fullmatch(r'classifier\.conv1_1\.(weight|bias)', key)
    if m:
        return f'decode_head.conv_seg.{m[1]}', value, ''
    return None, value, ''


def _strip_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        return {k[len(prefix):]: v for k, v in state_dict.items()}
    return dict(state_dict)


def convert_lavt(
    model_state: Mapping[str, torch.Tensor],
    bert_state: Optional[Mapping[str, torch.Tensor]] = None
) -> Tuple['OrderedDict[str, torch.Tensor]', Dict[str, str], List[str]]:
    """Convert LAVT state dicts to an mmrrsis ``RRSISEncoderDecoder`` state dict.

    Args:
        model_state (Mapping[str, Tensor]): LAVT's ``ckpt['model']`` (``backbone.*``,
            ``classifier.*`` and, for ``lavt_one``, ``text_encoder.*``).
        bert_state (Mapping[str, Tensor], optional): A separate BertModel state dict (``lavt``
            variant: ``ckpt['bert_model']``). When given, it replaces any ``text_encoder.*``
            of ``model_state``. Defaults to None.

    Returns:
        tuple: ``(state_dict, dropped, unmapped)``: the converted state dict, the source keys
        left out on purpose with the reason, and the source keys no rule knows.
    """
    model_state = _strip_prefix(model_state, 'module.')  # a DDP-wrapped model
    stages = [int(m[1]) for k in model_state
              for m in [re.match(r'backbone\.layers\.(\d+)\.', k)] if m]
    last_stage = max(stages) if stages else -1

    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    dropped: Dict[str, str] = {}
    unmapped: List[str] = []

    def add(src: str, dst: str, value: torch.Tensor) -> None:
        if dst in converted:
            raise ValueError(f'{src} maps to {dst}, which another key produced already')
        converted[dst] = value

    for key, value in model_state.items():
        if key.startswith('text_encoder.'):
            if bert_state is not None:
                dropped[key] = 'replaced by the separate BERT weights'
                continue
            new_key, reason = _convert_bert_key(key[len('text_encoder.'):])
        else:
            new_key, value, reason = _convert_model_key(key, value, last_stage)
        if new_key is not None:
            add(key, new_key, value)
        elif reason:
            dropped[key] = reason
        else:
            unmapped.append(key)

    if bert_state is not None:
        bert_state = _strip_prefix(_strip_prefix(bert_state, 'module.'), 'bert.')
        for key, value in bert_state.items():
            new_key, reason = _convert_bert_key(key)
            if new_key is None:
                dropped[f'bert_model.{key}'] = reason
            else:
                add(f'bert_model.{key}', new_key, value)
    return converted, dropped, unmapped


def check_torch_file(path: str) -> None:
    """Refuse, with the reason, a file that is no PyTorch checkpoint at all (an image, a text
    file, a truncated download): such a file is not a matter of trust."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    with open(path, 'rb') as f:
        head = f.read(8)
    # torch.save: a zip archive ('PK\x03\x04'); the legacy format: a pickle (protocol 2+)
    if head[:4] == b'PK\x03\x04' or head[:1] == b'\x80':
        return
    kinds = {b'\xff\xd8\xff': 'a JPEG image', b'\x89PNG': 'a PNG image', b'II*\x00': 'a TIFF image',
             b'MM\x00*': 'a TIFF image', b'{': 'JSON text', b'<': 'HTML / XML text'}
    kind = next((v for k, v in kinds.items() if head.startswith(k)), None)
    if kind is None:
        kind = 'text' if head and all(32 <= b < 127 or b in b'\t\r\n' for b in head) else \
            'not a PyTorch file'
    raise ValueError(f'{path} is not a PyTorch checkpoint ({kind}; first bytes {head!r}); '
                     'give the .pth file of the official release')


def mapping_problem(converted: Mapping, unmapped: List[str], src: str) -> Optional[str]:
    """Why a conversion must not be written: nothing mapped, or fewer source tensors mapped
    than not (another model's checkpoint); None when it is fine."""
    if not converted:
        return (f'no tensor of {src} maps to an mmrrsis name ({len(unmapped)} unmapped, e.g. '
                f'{list(unmapped)[:3]}): it is not a checkpoint of this model; nothing written')
    if len(unmapped) > len(converted):
        return (f'only {len(converted)} tensors of {src} map to mmrrsis names and '
                f'{len(unmapped)} do not (e.g. {list(unmapped)[:3]}): it is probably another '
                "model's checkpoint; nothing written")
    return None


def load_torch_file(path: str, trust_source: bool = False) -> dict:
    """``torch.load`` on the CPU. LAVT checkpoints also pickle the training ``args``
    (an ``argparse.Namespace``), which the safe loader is allowed to rebuild."""
    check_torch_file(path)
    if trust_source:
        return torch.load(path, map_location='cpu', weights_only=False)
    safe_globals = getattr(torch.serialization, 'safe_globals', None)  # torch >= 2.5
    allowed = safe_globals([argparse.Namespace]) if safe_globals else contextlib.nullcontext()
    try:
        with allowed:
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        raise RuntimeError(f'{path} holds objects that torch.load(weights_only=True) refuses '
                           f'({e}). If you trust the file, rerun with --trust-source.') from e


def _model_state(ckpt: dict, path: str) -> dict:
    for key in ('model', 'state_dict'):
        if isinstance(ckpt.get(key), Mapping):
            return dict(ckpt[key])
    if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return dict(ckpt)
    raise ValueError(f"{path} is neither a LAVT checkpoint (a 'model' entry) nor a state dict; "
                     f'top-level keys: {sorted(ckpt)[:10]}')


def _bert_state(ckpt: dict) -> dict:
    """BERT weights of a ``--bert-src`` file: a LAVT checkpoint, an mmrrsis/lavt_one one or a
    plain BertModel state dict."""
    if isinstance(ckpt.get('bert_model'), Mapping):
        return dict(ckpt['bert_model'])
    state = _model_state(ckpt, 'the --bert-src file')
    for prefix in ('text_encoder.model.', 'text_encoder.'):
        if any(k.startswith(prefix) for k in state):
            return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    return state


#: Scale-aware gate modules of RMSIN's CIM / FIANet's TMEM -> (ConvModule group, layer).
GATE_FUSION_NAMES = {
    'local_embedding': ('local_embeds', 'conv'), 'bn1': ('local_embeds', 'bn'),
    'global_embedding': ('global_embeds', 'conv'), 'bn2': ('global_embeds', 'bn'),
    'global_act': ('global_acts', 'conv'), 'bn3': ('global_acts', 'bn')}


def gate_fusion_key(rest: str) -> Optional[str]:
    """``fusion.i.<module>.<param>`` of a CIM / TMEM -> the neck key, else None."""
    m = re.fullmatch(r'fusion\.(\d+)\.(\w+)\.(\w+)', rest)
    if m and m[2] in GATE_FUSION_NAMES:
        group, layer = GATE_FUSION_NAMES[m[2]]
        return f'neck.{group}.{m[1]}.{layer}.{m[3]}'
    return None


def convert_lavt_family(model_state: Mapping[str, torch.Tensor], convert_own_key
                        ) -> Tuple['OrderedDict[str, torch.Tensor]', Dict[str, str], List[str]]:
    """Convert a LAVT-derived ``ckpt['model']``: ``convert_own_key(key, last_stage) ->
    (new key or None, drop reason, is the model's own key)`` handles the model's additions
    (an own key it cannot map is reported unmapped), :func:`convert_lavt` the rest; then the
    neck gates' conv biases are folded (:func:`fold_neck_gate_biases`).

    Returns:
        tuple: ``(state_dict, dropped, unmapped)`` as :func:`convert_lavt`.
    """
    model_state = _strip_prefix(model_state, 'module.')
    stages = [int(m[1]) for k in model_state
              for m in [re.match(r'backbone\.layers\.(\d+)\.', k)] if m]
    last_stage = max(stages) if stages else -1
    own, rest = OrderedDict(), OrderedDict()
    dropped: Dict[str, str] = {}
    unmapped: List[str] = []
    for key, value in model_state.items():
        new_key, reason, is_own = convert_own_key(key, last_stage)
        if new_key is not None:
            own[new_key] = value
        elif reason:
            dropped[key] = reason
        elif is_own:
            unmapped.append(key)
        else:
            rest[key] = value
    converted, lavt_dropped, lavt_unmapped = convert_lavt(rest)
    dropped.update(lavt_dropped)
    unmapped.extend(lavt_unmapped)
    for key, value in own.items():
        if key in converted:
            raise ValueError(f'{key} produced twice')
        converted[key] = value
    fold_neck_gate_biases(converted)  # conv bias + BN -> ConvModule
    return converted, dropped, unmapped


def converter_main(argv, description: str, src_help: str, convert) -> int:
    """Command line of the LAVT-family converters: ``SRC DST [--strict] [--trust-source]``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', help=src_help)
    parser.add_argument('dst', help='output path ({"state_dict": ...}, MMEngine format)')
    parser.add_argument('--strict', action='store_true',
                        help='fail, writing nothing, when a source key cannot be mapped')
    parser.add_argument('--trust-source', action='store_true',
                        help='load with torch.load(weights_only=False) (arbitrary pickles)')
    args = parser.parse_args(argv)
    try:
        return convert_file(args.src, args.dst, convert, args.strict, args.trust_source)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1


def fold_neck_gate_biases(converted: 'OrderedDict[str, torch.Tensor]') -> None:
    """Fold the biases of ``neck.<group>.<i>.conv`` 1x1 convs into their BatchNorm's running
    mean (RMSIN's CIM and FIANet's TMEM have conv bias + BN; mmrrsis builds ``ConvModule``
    without bias), in place: ``BN(conv(x) + b)`` with mean ``m`` == ``BN(conv(x))`` with ``m - b``.
    """
    for key in [k for k in converted if re.fullmatch(r'neck\.\w+\.\d+\.conv\.bias', k)]:
        bias = converted.pop(key)
        mean_key = key[:-len('conv.bias')] + 'bn.running_mean'
        if mean_key not in converted:
            raise ValueError(f'{key} has no BatchNorm to fold into ({mean_key} missing)')
        converted[mean_key] = converted[mean_key] - bias


def convert_file(src: str, dst: str, convert, strict: bool = False,
                 trust_source: bool = False) -> int:
    """Load ``src`` (a ``lavt_one``-layout checkpoint), convert its model state with
    ``convert(model_state) -> (state_dict, dropped, unmapped)``, report and save to ``dst``.
    Returns the exit code (1 when ``strict`` and a key is unmapped; nothing is written then)."""
    ckpt = load_torch_file(src, trust_source)
    if not isinstance(ckpt, Mapping):
        raise ValueError(f'{src} does not hold a dict')
    state_dict, dropped, unmapped = convert(_model_state(ckpt, src))
    problem = mapping_problem(state_dict, unmapped, src)
    if problem:
        print(f'error: {problem}', file=sys.stderr)
        return 1
    print(f'converted {len(state_dict)} tensors')
    for key, reason in dropped.items():
        print(f'dropped {key}: {reason}')
    if unmapped:
        print(f'{len(unmapped)} unmapped source keys:', file=sys.stderr)
        for key in unmapped:
            print(f'unmapped {key}', file=sys.stderr)
        if strict:
            print('--strict: nothing written', file=sys.stderr)
            return 1
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save({'state_dict': state_dict}, dst)
    print(f'saved to {dst}')
    return 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an official LAVT (yz93/LAVT-RIS) checkpoint to mmrrsis.')
    parser.add_argument('src', help='official checkpoint (lavt or lavt_one)')
    parser.add_argument('dst', help='output path ({"state_dict": ...}, MMEngine format)')
    parser.add_argument('--bert-src', help='separate BERT weights (a LAVT checkpoint with '
                        "'bert_model', or a BertModel state dict); overrides those in SRC")
    parser.add_argument('--strict', action='store_true',
                        help='fail, writing nothing, when a source key cannot be mapped')
    parser.add_argument('--trust-source', action='store_true',
                        help='load with torch.load(weights_only=False) (arbitrary pickles)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return _convert_main(args)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1


def _convert_main(args) -> int:
    ckpt = load_torch_file(args.src, args.trust_source)
    if not isinstance(ckpt, Mapping):
        raise ValueError(f'{args.src} does not hold a dict')
    model_state = _model_state(ckpt, args.src)
    if args.bert_src:
        bert_state = _bert_state(load_torch_file(args.bert_src, args.trust_source))
    else:
        bert_state = ckpt.get('bert_model')
    state_dict, dropped, unmapped = convert_lavt(model_state, bert_state)
    problem = mapping_problem(state_dict, unmapped, args.src)
    if problem:
        print(f'error: {problem}', file=sys.stderr)
        return 1
    print(f'converted {len(state_dict)} tensors')
    for key, reason in dropped.items():
        print(f'dropped {key}: {reason}')
    if not any(k.startswith('text_encoder.') for k in state_dict):
        print('warning: no text encoder weights found (lavt checkpoints keep them under '
              "'bert_model'; pass --bert-src); the text encoder keeps its own initialisation",
              file=sys.stderr)
    if unmapped:
        print(f'{len(unmapped)} unmapped source keys:', file=sys.stderr)
        for key in unmapped:
            print(f'unmapped {key}', file=sys.stderr)
        if args.strict:
            print('--strict: nothing written', file=sys.stderr)
            return 1
    dst_dir = osp.dirname(osp.abspath(args.dst))
    os.makedirs(dst_dir, exist_ok=True)
    torch.save({'state_dict': state_dict}, args.dst)
    print(f'saved to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
