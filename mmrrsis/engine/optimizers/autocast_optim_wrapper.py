# Copyright (c) mmrrsis contributors. All rights reserved.
import logging
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS

AUTOCAST_DTYPES = ('bfloat16', 'float16', 'float32')


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX, through oneDNN).

    Without it (e.g. an AVX2-only CPU), oneDNN emulates bfloat16 and autocast makes training
    several times slower than float32 (a demo iteration: 9.3 s vs 1.6 s on an AVX2 EPYC).
    """
    check = getattr(getattr(torch.ops, 'mkldnn', None), '_is_mkldnn_bf16_supported', None)
    if check is None:
        return False
    try:
        return bool(check())
    except Exception:  # an op missing from this build
        return False


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """An :class:`~mmengine.optim.OptimWrapper` that runs the forward pass of training under
    ``torch.autocast`` (bfloat16 by default), on the CPU as well as on GPUs.

    MMEngine's ``AmpOptimWrapper`` refuses to run without CUDA/NPU/MLU; on CPUs with
    AVX512-BF16 or AMX, bfloat16 autocast speeds up the matrix products of training (a
    full-size LAVT step: about 0.55x the float32 time on 2 cores, see
    ``docs/en/benchmark.md``). bfloat16 keeps float32's exponent range, so no loss scaling is
    needed; parameters, gradients and optimizer states stay float32, and validation/testing
    run in float32 (``test_cfg.autocast`` of the model changes that).

    The paper configs use it; ``optim_wrapper.dtype=float32`` (e.g. through
    ``--cfg-options``) turns autocast off and gives the float32 path. On a GPU without
    bfloat16 support (before Ampere) bfloat16 falls back to float32 with a warning: float16
    needs loss scaling, which is ``AmpOptimWrapper``'s job. On a CPU without native bfloat16
    (:func:`cpu_has_native_bf16` False: oneDNN emulates it, several times slower than float32)
    it falls back to float32 too and logs it, unless ``cpu_fallback=False``.

    Args:
        dtype (str | torch.dtype): ``'bfloat16'``, ``'float16'`` or ``'float32'`` (no
            autocast). Defaults to ``'bfloat16'``.
        device_type (str, optional): ``'cpu'`` or ``'cuda'``; by default the device of the
            model's first parameter.
        cpu_fallback (bool): Train in float32 on CPUs without native bfloat16. Defaults to
            True.
        **kwargs: Arguments of :class:`~mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 dtype: Union[str, torch.dtype, None] = 'bfloat16',
                 device_type: Optional[str] = None,
                 cpu_fallback: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(dtype, torch.dtype):
            dtype = str(dtype).replace('torch.', '')
        dtype = dtype or 'float32'
        if dtype not in AUTOCAST_DTYPES:
            raise ValueError(f'dtype must be one of {AUTOCAST_DTYPES}, got {dtype!r}.')
        self.cast_dtype = getattr(torch, dtype)
        self.device_type = device_type
        self.cpu_fallback = cpu_fallback
        self._checked = False

    def _enabled(self, device_type: str) -> bool:
        if self.cast_dtype == torch.float32:
            return False
        if device_type == 'cuda' and self.cast_dtype == torch.bfloat16 and \
                not torch.cuda.is_bf16_supported():
            if not self._checked:
                print_log('AutocastOptimWrapper: this GPU has no bfloat16 support; training '
                          'runs in float32 (use AmpOptimWrapper for float16 with loss '
                          'scaling).', logger='current', level=logging.WARNING)
                self._checked = True
            return False
        if device_type == 'cpu' and self.cast_dtype == torch.bfloat16 and \
                self.cpu_fallback and not cpu_has_native_bf16():
            if not self._checked:
                print_log('AutocastOptimWrapper: this CPU has no native bfloat16 (no '
                          'AVX512-BF16 / AMX; emulated bfloat16 is several times slower than '
                          'float32); training runs in float32 (cpu_fallback=False forces '
                          'bfloat16).', logger='current', level=logging.WARNING)
                self._checked = True
            return False
        return True

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient accumulation context of the parent, with autocast around the forward."""
        device_type = self.device_type
        if device_type is None:
            param = next(model.parameters(), None)
            device_type = param.device.type if param is not None else 'cpu'
        enabled = self._enabled(device_type)
        with super().optim_context(model), torch.autocast(
                device_type=device_type, dtype=self.cast_dtype if enabled else None,
                enabled=enabled):
            yield
