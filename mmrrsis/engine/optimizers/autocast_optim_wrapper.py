# Copyright (c) mmrrsis contributors. All rights reserved.
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """An :class:`~mmengine.optim.OptimWrapper` that runs the forward pass of training under
    ``torch.autocast`` in bfloat16, on the CPU as well as on GPUs.

    MMEngine's ``AmpOptimWrapper`` refuses to run without CUDA/NPU/MLU; on CPUs with
    AVX512-BF16 or AMX, bfloat16 autocast speeds up the matrix products of training (the
    synthetic demo: about 1.3x on 2 cores). bfloat16 keeps float32's exponent range, so no
    loss scaling is needed; parameters, gradients and optimizer states stay float32, and
    validation/testing run in float32.

    Args:
        dtype (str | torch.dtype): Autocast dtype. Defaults to ``'bfloat16'``.
        device_type (str, optional): ``'cpu'`` or ``'cuda'``; by default the device of the
            model's first parameter.
        **kwargs: Arguments of :class:`~mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 device_type: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(dtype, str):
            if dtype not in ('bfloat16', 'float16'):
                raise ValueError(f"dtype must be 'bfloat16' or 'float16', got {dtype!r}.")
            dtype = getattr(torch, dtype)
        self.cast_dtype = dtype
        self.device_type = device_type

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient accumulation context of the parent, with autocast around the forward."""
        device_type = self.device_type
        if device_type is None:
            param = next(model.parameters(), None)
            device_type = param.device.type if param is not None else 'cpu'
        with super().optim_context(model), torch.autocast(
                device_type=device_type, dtype=self.cast_dtype):
            yield
