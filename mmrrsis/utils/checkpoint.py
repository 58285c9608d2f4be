# Copyright (c) mmrrsis contributors. All rights reserved.
"""Safe checkpoint loading: no code runs from a checkpoint unless the user trusts it.

torch >= 2.6 loads with ``weights_only=True`` by default: a restricted unpickler that builds
tensors, storages and plain containers only, and refuses any other global by name. MMEngine
Runner checkpoints also hold a few plain-data types (the message hub's ``HistoryBuffer``,
numpy arrays and scalars in logged values, ``argparse.Namespace`` in official LAVT-family
checkpoints). :func:`register_safe_globals` (run on ``import mmrrsis``) adds exactly those to
torch's allowlist, so resume, ``load_from``, ``tools/test.py`` and the inferencer load them
safely; anything else (e.g. a ``__reduce__`` payload naming ``os.system``) is refused with
a message naming the global.

:func:`trust_checkpoints` is the explicit opt-in (``--trust-checkpoint`` of the tools,
``RRSISInferencer(trust_checkpoint=True)``): it turns the full unpickler on for this process.
"""
import argparse
import os
import pickle
from contextlib import contextmanager
from typing import Iterator, List, Optional

import numpy as np
import torch

TRUST_ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
TRUST_HINT = ('only if you trust this file (a checkpoint can run code when unpickled), pass '
              '--trust-checkpoint (tools) or trust_checkpoint=True (RRSISInferencer)')


def _numpy_globals() -> List[object]:
    core = getattr(np, '_core', None) or np.core
    out = [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype]
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:  # numpy >= 1.25: dtype classes are pickled by name
        out += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return out


#: HistoryBuffer's built-in statistics (registered on the first instance, so a fresh process
#: that loads a checkpoint before making one does not know them yet).
_HISTORY_BUFFER_METHODS = frozenset(('min', 'max', 'current', 'mean'))


def _history_buffer_getattr(obj, name: str):
    """Stands in for ``getattr`` when unpickling: only the statistics methods a pickled
    ``HistoryBuffer`` refers to by name (``getattr(HistoryBuffer, 'mean')``) are resolved;
    any other attribute lookup is refused (a general ``getattr`` would open the object graph
    of every allowed class)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed = _HISTORY_BUFFER_METHODS | set(HistoryBuffer._statistics_methods)
    if isinstance(obj, type) and issubclass(obj, HistoryBuffer) and isinstance(name, str) \
            and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(f'refused getattr({obj!r}, {name!r}) in a checkpoint: only '
                                 'HistoryBuffer statistics methods are allowed')


def safe_globals() -> List[object]:
    """The plain-data globals that mmrrsis admits besides torch's defaults."""
    from mmengine.config import ConfigDict
    from mmengine.logging.history_buffer import HistoryBuffer
    return [HistoryBuffer, ConfigDict, argparse.Namespace, set, frozenset, slice, range,
            complex, (_history_buffer_getattr, 'builtins.getattr'),
            (_history_buffer_getattr, '__builtin__.getattr')] + _numpy_globals()


def register_safe_globals() -> None:
    """Add :func:`safe_globals` to torch's ``weights_only`` allowlist (idempotent)."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch >= 2.4
        add(safe_globals())


def is_trusted() -> bool:
    """Whether the full unpickler is on for this process (the opt-in or the user's env)."""
    return os.environ.get(TRUST_ENV, '').lower() in ('1', 'true', 'yes', 'on')


def trust_checkpoints() -> None:
    """The explicit opt-in: load every checkpoint of this process with the full unpickler."""
    os.environ[TRUST_ENV] = '1'


@contextmanager
def trusted(enabled: bool = True) -> Iterator[None]:
    """Temporarily load with the full unpickler (``enabled=False``: no change)."""
    if not enabled:
        yield
        return
    old = os.environ.get(TRUST_ENV)
    os.environ[TRUST_ENV] = '1'
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(TRUST_ENV, None)
        else:
            os.environ[TRUST_ENV] = old


def refused_checkpoint_message(path: str, error: BaseException) -> str:
    """A one-paragraph explanation of a refused checkpoint, naming the refused global."""
    text = str(error)
    what = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    if 'WeightsUnpickler error:' in text:
        what = text.split('WeightsUnpickler error:', 1)[1]
        what = what.split('Check the documentation', 1)[0]
        what = what.split('Please use `torch.serialization', 1)[0]
        what = ' '.join(what.split())
    return (f'refused to load the checkpoint {path}: it holds an object outside the safe '
            f'allowlist of mmrrsis.utils.checkpoint ({what}). Load it {TRUST_HINT}.')


def is_refusal(error: BaseException) -> bool:
    """Whether ``error`` is the ``weights_only`` unpickler refusing a global."""
    return isinstance(error, pickle.UnpicklingError) or 'Weights only load failed' in str(error)


def load_checkpoint_file(path: str, map_location='cpu', trust: bool = False):
    """``torch.load`` with the safe allowlist; ``trust=True`` is the explicit opt-in.

    Raises:
        FileNotFoundError: no such file.
        RuntimeError: a refused global, with :func:`refused_checkpoint_message`.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'Checkpoint not found: {path}')
    register_safe_globals()
    if trust or is_trusted():
        return torch.load(path, map_location=map_location, weights_only=False)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        if is_refusal(e):
            raise RuntimeError(refused_checkpoint_message(path, e)) from None
        raise


def checkpoint_mismatch(model: torch.nn.Module, state: dict, source: str) -> Optional[str]:
    """Why ``state`` (a checkpoint's state dict) does not fit ``model``, or None if it does.

    A checkpoint fits when it gives every tensor of the model with the right shape (keys that
    the model does not have are allowed: e.g. a pooler, EMA copies). A DDP ``module.`` prefix
    is ignored.

    Args:
        model (nn.Module): The model built from the config.
        state (dict): The checkpoint (``state_dict`` inside, or the state dict itself).
        source (str): The file, for the message.
    """
    if isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
        state = state['state_dict']
    if not isinstance(state, dict):
        return f'{source} holds no state dict (a {type(state).__name__})'
    state = {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in state.items()}
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    wrong = [f'{k} {tuple(state[k].shape)} vs {tuple(v.shape)}' for k, v in expected.items()
             if k in state and hasattr(state[k], 'shape') and state[k].shape != v.shape]
    if not missing and not wrong:
        return None
    parts = []
    if missing:
        parts.append(f'{len(missing)} of the model\'s {len(expected)} tensors are missing '
                     f'(e.g. {missing[:3]})')
    if wrong:
        parts.append(f'{len(wrong)} have another shape (e.g. {wrong[:3]})')
    return f'{source} does not fit the model of the config: ' + '; '.join(parts)
