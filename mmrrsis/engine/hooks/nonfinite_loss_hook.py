# Copyright (c) mmrrsis contributors. All rights reserved.
"""Stop (or skip the step) when the training loss is NaN or infinite."""
import torch
import torch.distributed as torch_dist
from mmengine.dist import is_distributed
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

NONFINITE_ACTIONS = ('error', 'skip')


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Never train on (or save a "best" checkpoint after) a NaN / Inf loss.

    The stock runner trains on through a NaN loss: the parameters become NaN, the run ends with
    exit 0 and keeps a "best" checkpoint with oIoU 0. This hook wraps the optimizer wrapper's
    ``update_params`` and looks at the loss before the backward pass:

    - ``action='error'`` (default): stop with a ``FloatingPointError`` that names the
      iteration and the loss value; the checkpoints written so far are untouched, the last one
      is the state before the fault.
    - ``action='skip'``: run the backward pass (so that distributed ranks stay in step), throw
      the gradients away and skip the optimizer step, log it with a running count; after
      ``max_skips`` skipped steps, stop as ``'error'`` does.

    A loss can stay finite while a huge step leaves non-finite weights or BatchNorm statistics
    behind; every checkpoint is therefore checked before it is written
    (``before_save_checkpoint``): one with a NaN / Inf tensor stops the run instead of being
    saved (as "best" or otherwise), so the checkpoints on disk are all finite.

    Under distributed training the ranks agree (one all-reduce of a flag per step) so that all
    skip or all stop. MMEngine's ``AmpOptimWrapper`` (float16 with loss scaling) skips
    overflowing steps itself; the hook still catches a NaN *loss*.

    Args:
        action (str): ``'error'`` or ``'skip'``. Defaults to ``'error'``.
        max_skips (int): With ``'skip'``, stop after this many skipped steps. Defaults to 100.
    """

    priority = 'VERY_HIGH'

    def __init__(self, action: str = 'error', max_skips: int = 100) -> None:
        if action not in NONFINITE_ACTIONS:
            raise ValueError(f'action must be one of {NONFINITE_ACTIONS}, got {action!r}')
        self.action = action
        self.max_skips = max_skips
        self.num_skipped = 0

    def before_train(self, runner) -> None:
        wrappers = getattr(runner.optim_wrapper, 'optim_wrappers', None)
        for wrapper in (wrappers.values() if wrappers else [runner.optim_wrapper]):
            self._wrap(wrapper, runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('state_dict') or {}
        bad = [k for k, v in state.items()
               if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            raise FloatingPointError(
                f'The model holds non-finite values at iteration {runner.iter} ({len(bad)} '
                f'tensors, e.g. {bad[:3]}): the checkpoint is not written, the ones written '
                'before are intact. Lower the learning rate or check the data.')

    def _wrap(self, wrapper, runner) -> None:
        if getattr(wrapper, '_nonfinite_hook', None) is self:
            return
        update_params = wrapper.update_params

        def checked_update_params(loss: torch.Tensor, *args, **kwargs) -> None:
            if self._all_finite(loss):
                return update_params(loss, *args, **kwargs)
            iteration = runner.iter + 1
            if self.action == 'error' or self.num_skipped >= self.max_skips:
                why = (f' after {self.num_skipped} skipped steps (max_skips)'
                       if self.action == 'skip' else '')
                raise FloatingPointError(
                    f'Non-finite training loss ({loss.item()}) at iteration {iteration} '
                    f'(epoch {runner.epoch + 1}){why}. Training stopped before this step'
                    ' changed the weights; the checkpoints written so far are intact. '
                    'Lower the learning rate, check the data, or set '
                    "NonFiniteLossHook(action='skip').")
            wrapper.backward(loss)
            wrapper.zero_grad()
            self.num_skipped += 1
            print_log(f'NonFiniteLossHook: non-finite loss ({loss.item()}) at iteration '
                      f'{iteration}; step skipped ({self.num_skipped} so far)',
                      logger='current', level=30)

        wrapper.update_params = checked_update_params
        wrapper._nonfinite_hook = self

    @staticmethod
    def _all_finite(loss: torch.Tensor) -> bool:
        finite = torch.isfinite(loss.detach()).all()
        if is_distributed():
            flag = finite.to(torch.float32).reshape(1)
            torch_dist.all_reduce(flag, op=torch_dist.ReduceOp.MIN)
            return bool(flag.item() > 0)
        return bool(finite)
