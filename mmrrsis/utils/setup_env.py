# Copyright (c) mmrrsis contributors. All rights reserved.
from mmengine.registry import init_default_scope


def register_all_modules(init_default_scope_: bool = True) -> None:
    """Register MMSeg's and mmrrsis's modules into MMSeg's registries.

    Args:
        init_default_scope_ (bool): Also set the default scope to ``'mmseg'`` (the scope every
            mmrrsis config uses). Defaults to True.
    """
    import mmseg.datasets  # noqa: F401,F811
    import mmseg.engine  # noqa: F401,F811
    import mmseg.evaluation  # noqa: F401,F811
    import mmseg.models  # noqa: F401,F811
    import mmseg.structures  # noqa: F401,F811
    import mmseg.visualization  # noqa: F401,F811

    import mmrrsis.datasets  # noqa: F401,F811
    import mmrrsis.engine  # noqa: F401,F811
    import mmrrsis.evaluation  # noqa: F401,F811
    import mmrrsis.models  # noqa: F401,F811
    import mmrrsis.visualization  # noqa: F401,F811
    if init_default_scope_:
        init_default_scope('mmseg')
