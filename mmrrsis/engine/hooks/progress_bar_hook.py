# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class TrainProgressBarHook(Hook):
    """A tqdm progress bar over the training iterations (main process only).

    MMEngine logs every ``interval`` iterations; on short CPU runs (``make demo``) a bar that
    shows the rate and the time left is friendlier. The bar's postfix shows the latest loss.
    """

    priority = 'VERY_LOW'

    def __init__(self, desc: str = 'train') -> None:
        self.desc = desc
        self._bar = None

    def before_train(self, runner) -> None:
        if is_main_process():
            from tqdm import tqdm
            self._bar = tqdm(total=runner.max_iters, initial=runner.iter, desc=self.desc,
                             unit='it', dynamic_ncols=True)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if self._bar is None:
            return
        self._bar.update(1)
        if outputs and 'loss' in outputs:
            self._bar.set_postfix(loss=f"{outputs['loss'].item():.3f}", refresh=False)

    def after_train(self, runner) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
