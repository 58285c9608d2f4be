# Copyright (c) mmrrsis contributors. All rights reserved.
"""Checkpoints that survive a kill or a full disk during the write."""
import glob
import os
import os.path as osp
from contextlib import contextmanager
from typing import List

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

TMP_SUFFIX = '.tmp'


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """MMEngine's :class:`~mmengine.hooks.CheckpointHook` with writes that lose nothing.

    MMEngine writes a checkpoint in place and, with ``max_keep_ckpts`` or ``save_best``,
    deletes the previous one *before* writing the new one: a kill or a full disk during the
    write leaves a truncated file and nothing to resume from (``last_checkpoint`` may even
    point at a deleted file). Here every checkpoint (regular and best) is
    written to ``<name>.tmp``, flushed to disk and renamed into place (atomic on POSIX);
    MMEngine then writes ``last_checkpoint`` (a path, after the rename: a garbled or missing
    target makes ``tools/train.py --resume`` fall back to the newest intact checkpoint);
    the files MMEngine would delete are deleted only after the new file is in place. A failed
    write (e.g. no space left) deletes its temporary file, keeps every older checkpoint and
    stops the run with a message that lists them. Leftover ``.tmp`` files of a killed run are
    removed (logged) when training starts.

    Only local work directories are handled this way; other storage backends (``backend_args``)
    fall back to MMEngine's behaviour. Arguments: those of ``CheckpointHook``.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process() and self._local:
            for path in glob.glob(osp.join(glob.escape(self.out_dir), '*' + TMP_SUFFIX)):
                os.remove(path)
                print_log(f'SafeCheckpointHook: removed {path}, a checkpoint whose write was '
                          'interrupted', logger='current', level=30)

    @property
    def _local(self) -> bool:
        return isinstance(getattr(self, 'file_backend', None), LocalBackend)

    def _save_checkpoint_with_step(self, runner, step, meta):
        with self._safe_writes(runner):
            super()._save_checkpoint_with_step(runner, step, meta)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with self._safe_writes(runner):
            super()._save_best_checkpoint(runner, metrics)

    def _existing_checkpoints(self) -> List[str]:
        return sorted(p for p in glob.glob(osp.join(glob.escape(self.out_dir), '*.pth')))

    @contextmanager
    def _safe_writes(self, runner):
        """Inside: checkpoint writes go through a renamed temporary file and removals wait."""
        if not self._local or getattr(self, '_in_safe_write', False):
            yield
            return
        deferred: List[str] = []
        written: List[str] = []
        backend = self.file_backend
        remove, save = backend.remove, runner.save_checkpoint

        def defer_remove(path):
            deferred.append(path)

        def atomic_save(out_dir, filename, *args, **kwargs):
            final = osp.join(out_dir, filename)
            tmp_name = filename + TMP_SUFFIX
            tmp = osp.join(out_dir, tmp_name)
            try:
                save(out_dir, tmp_name, *args, **kwargs)
                if is_main_process():
                    _fsync_file(tmp)
                    os.replace(tmp, final)
            except BaseException as e:
                if osp.exists(tmp):
                    os.remove(tmp)
                if isinstance(e, OSError):
                    kept = [p for p in self._existing_checkpoints() if p != final]
                    raise OSError(
                        e.errno, f'Could not write the checkpoint {final}: {e.strerror or e}. '
                        'It was not written (no partial file is left); the older checkpoints '
                        f'are intact: {kept or "none"}. Free space and continue with '
                        '`tools/train.py CONFIG --resume`.') from e
                raise
            written.append(final)

        self._in_safe_write = True
        backend.remove = defer_remove
        runner.save_checkpoint = atomic_save
        try:
            yield
        finally:
            backend.remove = remove
            runner.save_checkpoint = save
            self._in_safe_write = False
        # only reached when every write succeeded: now the replaced files may go
        if is_main_process():
            for path in deferred:
                if path not in written and osp.isfile(path):
                    remove(path)
