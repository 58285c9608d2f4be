# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class ShuffledTextDataset:
    """The language ablation: every sample gets the expression of another sample.

    Images and masks stay; the texts are permuted across samples with a seeded derangement
    (no sample keeps its own text, when there are at least two samples). A model that uses the
    language must score clearly lower on this than on the original data; a text-blind model
    scores the same.

    Args:
        dataset (BaseDataset | dict): The wrapped data set (or its config).
        seed (int): Permutation seed. Defaults to 0.
    """

    def __init__(self, dataset: Union[BaseDataset, dict], seed: int = 0) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.seed = seed
        self._perm = None

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def _permutation(self) -> np.ndarray:
        if self._perm is None:
            n = len(self.dataset)
            rng = np.random.default_rng(self.seed)
            perm = rng.permutation(n)
            if n > 1:  # make it a derangement: shift the fixed points by one cycle
                fixed = np.flatnonzero(perm == np.arange(n))
                if len(fixed) == 1:
                    j = (fixed[0] + 1) % n
                    perm[[fixed[0], j]] = perm[[j, fixed[0]]]
                elif len(fixed) > 1:
                    perm[fixed] = perm[np.roll(fixed, 1)]
            self._perm = perm
        return self._perm

    def __len__(self) -> int:
        return len(self.dataset)

    def get_data_info(self, idx: int) -> dict:
        info = self.dataset.get_data_info(idx)
        donor = self.dataset.get_data_info(int(self._permutation()[idx]))
        info['orig_text'] = info.get('text')
        info['text'] = donor.get('text')
        return info

    def __getitem__(self, idx: int) -> dict:
        return self.dataset.pipeline(self.get_data_info(idx))

    def full_init(self) -> None:
        self.dataset.full_init()


@DATASETS.register_module()
class BlankTextDataset(ShuffledTextDataset):
    """The text-blind control: every sample gets the same expression (empty by default).

    Train a model on this to see what the images alone give (the salient-object prior of the
    data); a referring model must beat it clearly. Images and masks stay; the original
    expression is kept in ``orig_text``.

    Args:
        dataset (BaseDataset | dict): The wrapped data set (or its config).
        text (str): The expression every sample gets. Defaults to ``''`` (the text encoder
            sees ``[CLS] [SEP]`` only).
    """

    def __init__(self, dataset: Union[BaseDataset, dict], text: str = '') -> None:
        super().__init__(dataset)
        self.text = text

    def get_data_info(self, idx: int) -> dict:
        info = self.dataset.get_data_info(idx)
        info['orig_text'] = info.get('text')
        info['text'] = self.text
        return info
