# Copyright (c) mmrrsis contributors. All rights reserved.
"""Every parameter learns" checks that hold on any CPU and thread count.

A parameter whose gradient is zero in exact arithmetic (a single-channel 1x1 convolution
before a train-mode BatchNorm, a bias before a norm that removes the mean, a module that feeds
nothing) gets a gradient of exactly 0 on one machine and 1e-12 on another, depending on the
kernels' rounding. Such parameters are named, with the reason, and only checked to be
negligible; every other trainable parameter must get a gradient that is not all zeros (a real
gradient is far from zero on every machine). To find the parameters to name, run the seeded
check at two thread counts (``OMP_NUM_THREADS=1`` and 2) and compare each gradient relative to
the largest one: real gradients agree between the runs, rounding residues (1e-16 to 1e-6 of
the largest) do not; then state the reason from the module's structure.
"""
import re
from typing import Dict, Iterable, List, Tuple

import torch
from torch import nn

#: Parameters whose gradient is zero in exact arithmetic wherever the module is used.
STRUCTURAL_ZEROS: Dict[str, str] = {
    r'(.+\.)?(f_key|f_query|f_value|W)\.0\.bias':
    'PWAM-family attention: a constant in the query (InstanceNorm) or the key (softmax '
    'over the words) cancels, and one in the value or the output W is removed by the '
    "InstanceNorm of W",
    r'(.+\.)?attention\.self\.key\.bias':
    'BERT key bias: it adds the same constant to every logit of a softmax row',
    r'(.+\.)?i2t_key\.bias':
    'BSC image-to-text key bias: the same constant on every pixel of a softmax over pixels',
    r'(.+\.)?(t2i_queries\.k\d+\.(reduce|expand)|i2t_keys)\.0\.bias':
    'BSC unfold mode: bias of a 1x1 conv followed by an InstanceNorm',
}


def text_features_zeros(prefix: str, last_layer: int) -> Dict[str, str]:
    """The last BERT layer's LayerNorm shift, when the words reach the loss only through
    PWAM-family attention (keys: softmax over the words; values: InstanceNorm of W)."""
    return {rf'{prefix}encoder\.layer\.{last_layer}\.output\.LayerNorm\.bias':
            'a per-channel constant on every word cancels in the PWAM attention that reads '
            'the words (softmax over the words, InstanceNorm after the values)'}


def tmem_zeros(prefix: str, num_blocks: int) -> Dict[str, str]:
    """TMEM (FIANet): constants that only reach a normalised query or a train-mode
    BatchNorm."""
    last = num_blocks - 1
    return {
        rf'{prefix}blocks\.\d+\.norm1\.bias':
        'feeds only the cross-attention query (1x1 conv + InstanceNorm)',
        rf'{prefix}(blocks\.{last}\.ffn\.3|norm|channel_up)\.bias':
        'a per-channel constant that reaches only the gates\' 1x1 convs + train-mode '
        'BatchNorms, which subtract it',
    }


def cim_zeros(prefix: str) -> Dict[str, str]:
    """CIM (RMSIN): biases and BatchNorm shifts whose constant reaches only a train-mode
    BatchNorm."""
    return {
        rf'{prefix}(channel_down|channel_up|norm)\.bias|{prefix}blocks\.\d+\.('
        r'csa\d\.(dwconv\d\.0|parallel_conv|to_out|conv)|intra_ff\.ffs\.\d+\.(conv[13]|bn1)|'
        r'ff\.(conv[13]|bn1))\.bias':
        'a per-channel constant that reaches only train-mode BatchNorms (CIM and its gates)',
    }

#: An exempt parameter's gradient must stay below this share of the largest gradient of the
#: check: a gradient that is zero in exact arithmetic is float rounding (1e-16 to 1e-6 of it).
ROUNDING_LEVEL = 1e-4


def gradient_report(named_params: Iterable[Tuple[str, nn.Parameter]],
                    zero_in_exact_arithmetic: Dict[str, str] = None
                    ) -> Tuple[List[str], List[str], List[str]]:
    """Sort trainable parameters by their gradients after ``backward()``.

    Args:
        named_params: ``module.named_parameters()`` (frozen ones are skipped).
        zero_in_exact_arithmetic (dict[str, str]): Regular expression (``re.fullmatch`` on the
            name) -> why the gradient is zero in exact arithmetic.

    Returns:
        tuple[list[str], list[str], list[str]]: Parameters that are not exempt and got no
        gradient or an all-zero one; exempt parameters whose gradient is *not* negligible
        (:data:`ROUNDING_LEVEL`: the reason is wrong); exemption patterns that matched no
        parameter (stale).
    """
    exempt = dict(zero_in_exact_arithmetic or {})
    params = [(n, p) for n, p in named_params if p.requires_grad]
    names = [n for n, _ in params]
    for pattern, reason in STRUCTURAL_ZEROS.items():  # the ones that occur here
        if any(re.fullmatch(pattern, n) for n in names):
            exempt.setdefault(pattern, reason)
    sizes = {n: (p.grad.detach().abs().max().item() if p.grad is not None else 0.)
             for n, p in params}
    scale = max(sizes.values(), default=0.)
    assert scale > 0, 'no parameter got a gradient at all'
    used, missing, wrong = set(), [], []
    for name, size in sizes.items():
        pattern = next((pat for pat in exempt if re.fullmatch(pat, name)), None)
        if pattern is not None:
            used.add(pattern)
            if size > ROUNDING_LEVEL * scale:
                wrong.append(f'{name} (|grad| {size:.3g} of {scale:.3g}: not zero, so '
                             f'"{exempt[pattern]}" is wrong)')
        elif size == 0:
            missing.append(name)
    return missing, wrong, sorted(set(exempt) - used)


def assert_every_parameter_learns(named_params: Iterable[Tuple[str, nn.Parameter]],
                                  zero_in_exact_arithmetic: Dict[str, str] = None) -> None:
    """Assert that every trainable parameter got a gradient that is not all zeros, except the
    named ones, whose gradients must be negligible (see :func:`gradient_report`)."""
    missing, wrong, stale = gradient_report(named_params, zero_in_exact_arithmetic)
    assert not missing, f'no gradient: {missing}'
    assert not wrong, wrong
    assert not stale, f'exemptions that match no parameter: {stale}'


def random_projection_loss(*outputs: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A loss without structure: each output times fixed random weights, summed.

    ``o.mean()`` or ``o.sum()`` of a normalised output is (nearly) constant, so every parameter
    before the norm gets a gradient that is zero in exact arithmetic; a random projection has
    no such cancellation.
    """
    gen = torch.Generator().manual_seed(seed)
    return sum((o * torch.randn(o.shape, generator=gen).to(o)).sum() for o in outputs)
