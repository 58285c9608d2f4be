# Copyright (c) mmrrsis contributors. All rights reserved.
"""Distributed helpers for the tools (CPU-only machines)."""
import torch


def setup_cpu_distributed(cfg):
    """Make ``--launcher pytorch`` work on a machine without a GPU.

    MMEngine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally, and the
    Runner wraps the model in DDP with ``device_ids=[LOCAL_RANK]``; both fail on the CPU. Here
    we start the process group ourselves (gloo; the Runner then skips ``init_dist``) and let
    DDP run on the CPU (``device_ids=None``). Nothing changes when CUDA is available.
    """
    if cfg.launcher == 'none' or torch.cuda.is_available():
        return
    import torch.distributed as dist
    if not dist.is_initialized():
        backend = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('backend', 'gloo')
        dist.init_process_group(backend='gloo' if backend == 'nccl' else backend)
    wrapper_cfg = cfg.get('model_wrapper_cfg', None) or dict(type='MMDistributedDataParallel')
    if wrapper_cfg.get('type', 'MMDistributedDataParallel') == 'MMDistributedDataParallel':
        wrapper_cfg.setdefault('device_ids', None)
        wrapper_cfg.setdefault('broadcast_buffers', False)
        wrapper_cfg.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper_cfg


def teardown_distributed():
    """Destroy the process group before exit: a gloo group left to interpreter shutdown can
    abort the process ("terminate called without an active exception", exit code -6)."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
