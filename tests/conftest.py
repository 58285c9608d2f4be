# Copyright (c) mmrrsis contributors. All rights reserved.
import os

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

import pytest  # noqa: E402


@pytest.fixture(scope='session', autouse=True)
def _register_all_modules():
    from mmrrsis.utils import register_all_modules
    register_all_modules()
