# Copyright (c) mmrrsis contributors. All rights reserved.
"""Version gates and optional-dependency helpers (mmpretrain's ``utils/dependency.py`` pattern)."""
from functools import wraps
from importlib import import_module
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from typing import Callable, Optional

from packaging.version import Version

MMCV_MIN, MMCV_MAX = '2.0.0rc4', '2.2.0'
MMENGINE_MIN, MMENGINE_MAX = '0.10.0', '1.0.0'
MMSEG_MIN, MMSEG_MAX = '1.2.0', '1.3.0'

_MMCV_FIX = ('Build mmcv 2.1.0 with its compiled ops against your torch (torch <= 2.13): '
             '`make install` in the mmrrsis repository does it, or by hand: '
             '`pip install "setuptools<82" wheel ninja && MMCV_WITH_OPS=1 pip install '
             '--no-build-isolation --no-cache-dir mmcv==2.1.0` (see docs/en/get_started.md).')


def _installed(dist: str) -> Optional[str]:
    try:
        return dist_version(dist)
    except PackageNotFoundError:
        return None


def check_mm_versions() -> None:
    """Raise an ``ImportError`` naming the fix when the OpenMMLab stack is unusable.

    Checks mmcv (full build with compiled ops, ``2.0.0rc4 <= v < 2.2.0`` as mmseg 1.2.x
    asserts), mmengine and mmsegmentation.
    """
    mmcv_v = _installed('mmcv')
    if mmcv_v is None:
        if _installed('mmcv-lite'):
            raise ImportError('mmrrsis needs the full mmcv with compiled ops, but only mmcv-lite '
                              'is installed (mmseg imports mmcv.ops). ' + _MMCV_FIX)
        raise ImportError('mmcv is not installed. ' + _MMCV_FIX)
    if not Version(MMCV_MIN) <= Version(mmcv_v) < Version(MMCV_MAX):
        raise ImportError(f'mmcv=={mmcv_v} is installed, but mmsegmentation 1.2.x needs '
                          f'{MMCV_MIN} <= mmcv < {MMCV_MAX}. ' + _MMCV_FIX)
    try:
        import_module('mmcv._ext')
    except Exception as e:  # ImportError or an undefined-symbol OSError
        raise ImportError(
            f'mmcv=={mmcv_v} is installed without working compiled ops ({type(e).__name__}: '
            f'{e}). This happens when mmcv was built without torch in the build environment, '
            'or against another torch version than the one installed now. ' + _MMCV_FIX) from e
    for dist, lo, hi in (('mmengine', MMENGINE_MIN, MMENGINE_MAX),
                         ('mmsegmentation', MMSEG_MIN, MMSEG_MAX)):
        v = _installed(dist)
        if v is None:
            raise ImportError(f'{dist} is not installed: `pip install "{dist}>={lo},<{hi}"` '
                              '(or `make install`).')
        if not Version(lo) <= Version(v) < Version(hi):
            raise ImportError(f'{dist}=={v} is installed, but mmrrsis needs {lo} <= {dist} < '
                              f'{hi}: `pip install "{dist}>={lo},<{hi}"`.')


def satisfy_requirement(dep: str) -> bool:
    """Whether an importable module named ``dep`` exists."""
    try:
        import_module(dep)
        return True
    except Exception:
        return False


def require(dep: str, install: Optional[str] = None) -> Callable:
    """Decorator: raise an ``ImportError`` naming ``pip install <install>`` if ``dep`` is
    missing when the decorated function (or class ``__init__``) is called."""

    def wrapper(fn: Callable) -> Callable:

        @wraps(fn)
        def ask_install(*args, **kwargs):
            name = getattr(fn, '__qualname__', fn.__name__)
            raise ImportError(f'{name} needs the optional package `{dep}`: '
                              f'`pip install {install or dep}`.')

        return fn if satisfy_requirement(dep) else ask_install

    return wrapper
