# Copyright (c) mmrrsis contributors. All rights reserved.
"""Switchable attention kernels: the plain ("eager") matrix products or PyTorch's fused
``scaled_dot_product_attention`` (SDPA).

Every attention of mmrrsis that SDPA computes exactly (up to float rounding) carries an
``attn_impl`` attribute, ``'eager'`` or ``'sdpa'``, read at every forward, so one model can run
both paths with the same weights (the benchmark tool and the tests do). Parameter names do not
change, so checkpoints load into either. :func:`set_attn_impl` switches a whole model, MMSeg's
Swin window attention included (its ``WindowMSA`` modules become :class:`SwitchableWindowMSA`,
a subclass with the same parameters and buffers).

Modules with an SDPA path: :class:`~mmrrsis.models.layers.SpatialImageLanguageAttention`
(LAVT's PWAM, FIANet's OPAB and TMEM text attention, LGCE and RMSIN's PWAM), RMSIN's
cross-scale attention and the Swin window attention. BTDNet's BSC reuses the correlation
logits in both directions, so it stays on the eager path by construction.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.backbones.swin import WindowMSA
from torch import Tensor

ATTN_IMPLS = ('eager', 'sdpa')
#: Run SDPA in float32 on CPUs even under bfloat16 autocast (the fused kernel's fast dtype).
CPU_SDPA_FLOAT32 = True


def check_attn_impl(attn_impl: str) -> str:
    """Validate an ``attn_impl`` value and return it."""
    if attn_impl not in ATTN_IMPLS:
        raise ValueError(f'attn_impl must be one of {ATTN_IMPLS}, got {attn_impl!r}')
    return attn_impl


def sdpa(query: Tensor, key: Tensor, value: Tensor, bias: Optional[Tensor] = None,
         scale: Optional[float] = None, dropout_p: float = 0.0) -> Tensor:
    """``softmax(query key^T * scale + bias) value`` through the fused kernel.

    Args:
        query (Tensor): (B, h, N, d). key (Tensor): (B, h, L, d). value (Tensor): (B, h, L, d_v).
        bias (Tensor, optional): Additive logit bias broadcastable to (B, h, N, L); cast to the
            query's dtype (under autocast the kernel runs in the autocast dtype).
        scale (float, optional): Logit scale. Defaults to ``d ** -0.5``.
        dropout_p (float): Dropout on the attention weights. Defaults to 0.

    Returns:
        Tensor: (B, h, N, d_v).
    """
    out_dtype = query.dtype
    if query.device.type == 'cpu' and CPU_SDPA_FLOAT32 and out_dtype != torch.float64:
        # On CPUs the fused (flash) kernel is fastest in float32: in bfloat16 SDPA runs
        # small batched matrix products at a fraction of the float32 rate (see
        # docs/en/benchmark.md); the up-cast costs one copy of q, k and v.
        with torch.autocast('cpu', enabled=False):
            out = F.scaled_dot_product_attention(
                query.float(), key.float(), value.float(),
                attn_mask=None if bias is None else bias.float(), dropout_p=dropout_p,
                scale=scale)
        return out.to(out_dtype)
    if bias is not None:
        bias = bias.to(query.dtype)
    return F.scaled_dot_product_attention(
        query, key.to(query.dtype), value.to(query.dtype), attn_mask=bias,
        dropout_p=dropout_p, scale=scale)


class SwitchableWindowMSA(WindowMSA):
    """MMSeg's Swin window attention with an SDPA path (same parameters and buffers).

    ``attn_impl='eager'`` runs :meth:`WindowMSA.forward` unchanged; ``'sdpa'`` adds the
    relative position bias (and the shifted-window mask) as an additive mask of
    ``scaled_dot_product_attention``.
    """

    attn_impl = 'eager'

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """x (nW * B, N, C), mask (nW, N, N) or None -> (nW * B, N, C)."""
        if self.attn_impl == 'eager':
            return super().forward(x, mask)
        B, N, C = x.shape
        h = self.num_heads
        qkv = self.qkv(x).reshape(B, N, 3, h, C // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B, h, N, d)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(
            N, N, -1).permute(2, 0, 1)  # (h, N, N)
        if mask is None:
            bias = bias.unsqueeze(0)  # (1, h, N, N)
        else:
            nW = mask.shape[0]
            bias = (bias.unsqueeze(0) + mask.unsqueeze(1)).unsqueeze(0).expand(
                B // nW, nW, h, N, N).reshape(B, h, N, N)
        out = sdpa(q, k, v, bias, scale=self.scale,
                   dropout_p=self.attn_drop.p if self.training else 0.0)
        x = out.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


def set_attn_impl(model: nn.Module, attn_impl: str) -> int:
    """Switch every switchable attention of ``model`` to ``attn_impl``.

    MMSeg ``WindowMSA`` modules are turned into :class:`SwitchableWindowMSA` first (the same
    object, parameters untouched). Text encoders choose their attention when built
    (``HFTextEncoder(attn_implementation=...)``) and are not changed here.

    Switchable classes declare a class attribute ``attn_impl = 'eager'``; the instance
    attribute overrides it.

    Returns:
        int: The number of modules switched.
    """
    check_attn_impl(attn_impl)
    count = 0
    for module in model.modules():
        if type(module) is WindowMSA:
            module.__class__ = SwitchableWindowMSA
        if isinstance(getattr(type(module), 'attn_impl', None), str):  # a switchable class
            module.attn_impl = attn_impl
            count += 1
    return count
