# Copyright (c) mmrrsis contributors. All rights reserved.
import os

os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')

import pytest  # noqa: E402


@pytest.fixture(scope='session', autouse=True)
def _register_all_modules():
    from mmrrsis.utils import register_all_modules
    register_all_modules()


@pytest.fixture(scope='module')
def one_thread():
    """Tiny tensors gain nothing from intra-op threads; on a shared CPU they cost 5-10x."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _seed_everything():
    """Every test starts from the same random state, whatever ran before it: a test's numbers
    do not depend on the order or on which other tests were selected."""
    import random

    import numpy as np
    import torch
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield
