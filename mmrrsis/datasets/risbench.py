# Copyright (c) mmrrsis contributors. All rights reserved.
from mmseg.registry import DATASETS

from .refsegrs import RefSegRSDataset


@DATASETS.register_module()
class RISBenchDataset(RefSegRSDataset):
    """RISBench (Dong et al., CroBIM, https://arxiv.org/abs/2410.08613): 52,472 triplets of
    512x512 images, 26 classes.

    Layout of ``data_root`` (as the RSRefSeg2 converter reads it)::

        img_rgb/<name>.png               RGB image, one file per triplet
        mask/<name>.png                  single-channel mask, any non-zero pixel is foreground
        output_phrase_{train,val,test}.txt   ``<name>.png <expression>`` per line

    As the reference reader (RSRefSeg2's converter) does, trailing whitespace of a line is not
    part of the expression; spaces inside it are kept (a double space survives).
    ``<name>`` looks like ``train_14700_0`` / ``test_2_3``; its prefix is not the RISBench split
    (the val split holds ``train_*`` names). The line is split once at its first space, the
    file name used verbatim (it carries the ``.png``), ``ref_id`` and ``sent_id`` are the
    name. Masks are thresholded at 0 (``mask_threshold=0`` in the data info: what the
    reference converter's RLE encoding of the grey array counts as foreground). No file of the
    public release carries categories or attributes: ``category`` is ``None`` and the metric
    derives one from the expression (``RRSISMetric(categories='risbench')``, the 26 class
    names with the aliases DiCoR matches).

    Args:
        data_root (str): The RISBench root.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        img_dir (str): Defaults to ``'img_rgb'``.
        mask_dir (str): Defaults to ``'mask'``.
        mask_threshold (int): Foreground is pixel > this. Defaults to 0.
        **kwargs: Other :class:`RefSegRSDataset` arguments.
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 img_dir: str = 'img_rgb',
                 mask_dir: str = 'mask',
                 mask_threshold: int = 0,
                 **kwargs) -> None:
        self.mask_threshold = mask_threshold
        kwargs.setdefault('img_suffix', '')
        kwargs.setdefault('seg_map_suffix', '')
        super().__init__(data_root=data_root, split=split, img_dir=img_dir, mask_dir=mask_dir,
                         **kwargs)

    def load_data_list(self):
        data_list = super().load_data_list()
        for info in data_list:
            info['mask_threshold'] = self.mask_threshold
            # the reference reader strips each line (mmengine.list_from_file + str.strip())
            # before splitting at spaces: trailing whitespace is not part of the expression
            info['text'] = info['text'].rstrip()
        return data_list
