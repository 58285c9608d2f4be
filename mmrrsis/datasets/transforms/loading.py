# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import Optional, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmengine.logging import print_log
from mmseg.registry import TRANSFORMS


def load_refsegrs_mask(path: str, threshold: int = 50) -> np.ndarray:
    """Read a RefSegRS mask file as the reference loaders do.

    ``cv2.imread(path, IMREAD_ANYDEPTH)`` (grayscale), foreground = pixel > ``threshold``.

    Returns:
        np.ndarray: (H, W) uint8 in {0, 1}.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file cannot be decoded as an image.
    """
    import os.path as osp
    if not osp.isfile(path):
        raise FileNotFoundError(f'Mask file not found: {path}')
    mask = cv2.imread(path, cv2.IMREAD_ANYDEPTH)
    if mask is None:
        raise ValueError(f'Cannot decode the mask file {path} (corrupt or not an image)')
    if mask.ndim == 3:  # defensive: a colour mask, use its first channel
        mask = mask[..., 0]
    return (mask > threshold).astype(np.uint8)


def decode_refer_segmentation(segmentation: Union[list, dict], height: int,
                              width: int) -> np.ndarray:
    """Decode a REFER/COCO segmentation to a binary mask (the union of its parts).

    Accepts polygons (a list of coordinate lists), a list of RLE dicts (compressed ``counts``
    as ``str``/``bytes`` or uncompressed as a list of ints) or a single RLE dict.

    Returns:
        np.ndarray: (H, W) uint8 in {0, 1}.
    """
    from pycocotools import mask as mask_utils
    if isinstance(segmentation, dict):
        segmentation = [segmentation]
    if not segmentation:
        raise ValueError('empty segmentation')
    if isinstance(segmentation[0], (list, tuple)) or isinstance(segmentation[0], (int, float)):
        if isinstance(segmentation[0], (int, float)):  # a single flat polygon
            segmentation = [segmentation]
        if height is None or width is None:
            raise ValueError('polygon segmentation needs the image height and width')
        rles = mask_utils.frPyObjects([list(map(float, p)) for p in segmentation], height, width)
    else:
        rles = []
        for rle in segmentation:
            h, w = rle['size']
            if isinstance(rle['counts'], list):  # uncompressed RLE
                rle = mask_utils.frPyObjects(rle, h, w)
            elif isinstance(rle['counts'], str):
                rle = dict(size=rle['size'], counts=rle['counts'].encode('ascii'))
            rles.append(rle)
    m = mask_utils.decode(rles)
    if m.ndim == 3:
        m = m.sum(axis=2)
    return (m > 0).astype(np.uint8)


@TRANSFORMS.register_module()
class LoadRRSISImageFromFile(MMCVLoadImageFromFile):
    """``LoadImageFromFile`` whose errors name the file and the problem.

    Defaults to ``imdecode_backend='pillow'`` (the reference loaders use
    ``PIL.Image.open(...).convert('RGB')``) and ``color_type='color'``, so grayscale, palette
    and RGBA images all become 3-channel BGR (mmcv's channel order; the data preprocessor
    swaps to RGB).
    """

    def __init__(self, imdecode_backend: str = 'pillow', **kwargs) -> None:
        super().__init__(imdecode_backend=imdecode_backend, **kwargs)

    def transform(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        try:
            out = super().transform(results)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'Image file not found: {path}') from e
        except Exception as e:
            raise ValueError(f'Cannot read the image {path}: {type(e).__name__}: {e}') from e
        if out is not None and out.get('img') is None:
            raise ValueError(f'Cannot decode the image {path} (corrupt or not an image)')
        return out


@TRANSFORMS.register_module()
class LoadRRSISAnnotations(BaseTransform):
    """Load the referred object's mask into ``results['gt_seg_map']``.

    The mask source is ``seg_map_path`` (RefSegRS: pixel > ``fg_threshold`` is foreground, as
    the reference loaders do) or ``segmentation`` (REFER: polygons or RLE, union of the parts).
    The result is (H, W) uint8 {0, 1} at the image's original size.

    A mask whose size differs from the loaded image is an error by default
    (``on_size_mismatch='error'``); ``'resize'`` nearest-resizes it to the image and logs a
    warning (RSRefSeg2's behaviour). Must come after the image loading transform to be checked.

    Required keys: ``seg_map_path`` or ``segmentation`` (+ ``height``, ``width`` for polygons).
    Added keys: ``gt_seg_map``, ``seg_fields``.

    Args:
        fg_threshold (int): RefSegRS foreground threshold. Defaults to 50.
        on_size_mismatch (str): ``'error'`` or ``'resize'``. Defaults to ``'error'``.
    """

    def __init__(self, fg_threshold: int = 50, on_size_mismatch: str = 'error') -> None:
        if on_size_mismatch not in ('error', 'resize'):
            raise ValueError("on_size_mismatch must be 'error' or 'resize', "
                             f'got {on_size_mismatch!r}')
        self.fg_threshold = fg_threshold
        self.on_size_mismatch = on_size_mismatch

    def transform(self, results: dict) -> dict:
        if results.get('seg_map_path') is not None:
            source = results['seg_map_path']
            mask = load_refsegrs_mask(source, self.fg_threshold)
        elif results.get('segmentation') is not None:
            source = f"{results.get('img_path')} (ref {results.get('ref_id')})"
            h, w = results.get('height'), results.get('width')
            if (h is None or w is None) and 'ori_shape' in results:
                h, w = results['ori_shape'][:2]
            try:
                mask = decode_refer_segmentation(results['segmentation'], h, w)
            except Exception as e:
                raise ValueError(f'Cannot decode the segmentation of {source}: {e}') from e
        else:
            raise KeyError('LoadRRSISAnnotations needs `seg_map_path` or `segmentation` in the '
                           f"data info of {results.get('img_path')}")
        img_shape = results.get('ori_shape') or (results['img'].shape[:2]
                                                 if results.get('img') is not None else None)
        if img_shape is not None and tuple(mask.shape) != tuple(img_shape[:2]):
            msg = (f'mask {source} has size {mask.shape[1]}x{mask.shape[0]} (WxH) but the image '
                   f"{results.get('img_path')} is {img_shape[1]}x{img_shape[0]}")
            if self.on_size_mismatch == 'error':
                raise ValueError(msg + " (set on_size_mismatch='resize' to resize it)")
            print_log(msg + '; nearest-resizing the mask', logger='current', level=30)
            mask = cv2.resize(mask, (img_shape[1], img_shape[0]),
                              interpolation=cv2.INTER_NEAREST)
        results['gt_seg_map'] = mask
        results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in results['seg_fields']:
            results['seg_fields'].append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(fg_threshold={self.fg_threshold}, '
                f"on_size_mismatch='{self.on_size_mismatch}')")
