# Copyright (c) mmrrsis contributors. All rights reserved.
from typing import List, Optional, Sequence, Tuple, Union

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


def rle_string_counts(counts: str) -> List[int]:
    """The run lengths of a COCO compressed RLE string (pycocotools' ``rleFrString`` format:
    6-bit chunks offset by 48, sign-extended, each count after the second a difference to the
    count two before), parsed in Python so that malformed strings can be refused before
    pycocotools decodes them.

    Raises:
        ValueError: a character outside the alphabet or a truncated last count.
    """
    out: List[int] = []
    p, n = 0, len(counts)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                raise ValueError('truncated compressed RLE string')
            c = ord(counts[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(f'invalid character {counts[p]!r} in a compressed RLE string')
            x |= (c & 0x1f) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        out.append(x)
    return out


def validate_rle(rle: dict) -> Tuple[int, int]:
    """Check an RLE dict before decoding: ``size`` is two positive ints and the run lengths
    (uncompressed list or compressed string) are non-negative and sum to H x W (pycocotools
    reads memory it never set otherwise, giving a different mask on every load).

    Returns:
        tuple[int, int]: (H, W).

    Raises:
        ValueError: naming what is wrong.
    """
    if not isinstance(rle, dict) or 'size' not in rle or 'counts' not in rle:
        raise ValueError(f'an RLE needs "size" and "counts", got {type(rle).__name__} '
                         f'{list(rle) if isinstance(rle, dict) else ""}')
    size = rle['size']
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(isinstance(v, (int, np.integer)) and v > 0 for v in size)):
        raise ValueError(f'RLE size must be [height, width] with positive ints, got {size!r}')
    h, w = int(size[0]), int(size[1])
    counts = rle['counts']
    if isinstance(counts, bytes):
        try:
            counts = counts.decode('ascii')
        except UnicodeDecodeError as e:
            raise ValueError(f'compressed RLE counts are not ASCII: {e}') from e
    if isinstance(counts, str):
        runs = rle_string_counts(counts)
    elif isinstance(counts, (list, tuple)):
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                   for v in counts):
            raise ValueError('uncompressed RLE counts must be integers')
        runs = [int(v) for v in counts]
    else:
        raise ValueError(f'RLE counts must be a list or a string, got {type(counts).__name__}')
    if any(v < 0 for v in runs):
        raise ValueError('RLE counts has a negative run length')
    if sum(runs) != h * w:
        raise ValueError(f'RLE counts sum to {sum(runs)} pixels but size {h}x{w} needs '
                         f'{h * w}')
    return h, w


def validate_polygons(polygons: Sequence, height: int, width: int) -> None:
    """Each polygon is a flat list of >= 3 finite (x, y) pairs.

    Raises:
        ValueError: naming the polygon and the problem.
    """
    for i, poly in enumerate(polygons):
        if not isinstance(poly, (list, tuple)):
            raise ValueError(f'polygon {i} is a {type(poly).__name__}, not a list of '
                             'coordinates')
        try:
            values = np.asarray(poly, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f'polygon {i} holds non-numeric coordinates') from e
        if values.ndim != 1 or values.size < 6 or values.size % 2:
            raise ValueError(f'polygon {i} needs an even number (>= 6) of coordinates, got '
                             f'{values.size}')
        if not np.isfinite(values).all():
            raise ValueError(f'polygon {i} has a non-finite coordinate')


def decode_refer_segmentation(segmentation: Union[list, dict], height: int,
                              width: int) -> np.ndarray:
    """Decode a REFER/COCO segmentation to a binary mask (the union of its parts).

    Accepts polygons (a list of coordinate lists), a list of RLE dicts (compressed ``counts``
    as ``str``/``bytes`` or uncompressed as a list of ints) or a single RLE dict. Every part is
    validated first (:func:`validate_rle`, :func:`validate_polygons`); parts of one
    annotation must have the same size.

    Returns:
        np.ndarray: (H, W) uint8 in {0, 1}.

    Raises:
        ValueError: a malformed or inconsistent segmentation.
    """
    from pycocotools import mask as mask_utils
    if isinstance(segmentation, dict):
        segmentation = [segmentation]
    if not isinstance(segmentation, (list, tuple)):
        raise ValueError(f'segmentation must be a list or a dict, got '
                         f'{type(segmentation).__name__}')
    if not segmentation:
        raise ValueError('empty segmentation')
    if isinstance(segmentation[0], (list, tuple)) or isinstance(segmentation[0], (int, float)):
        if isinstance(segmentation[0], (int, float)):  # a single flat polygon
            segmentation = [segmentation]
        if height is None or width is None:
            raise ValueError('polygon segmentation needs the image height and width')
        validate_polygons(segmentation, height, width)
        rles = mask_utils.frPyObjects([list(map(float, p)) for p in segmentation], height, width)
    else:
        rles, sizes = [], set()
        for i, rle in enumerate(segmentation):
            try:
                sizes.add(validate_rle(rle))
            except ValueError as e:
                raise ValueError(f'RLE part {i}: {e}') from None
            h, w = rle['size']
            if isinstance(rle['counts'], (list, tuple)):  # uncompressed RLE
                rle = mask_utils.frPyObjects(dict(size=[int(h), int(w)],
                                                  counts=[int(v) for v in rle['counts']]),
                                             int(h), int(w))
            elif isinstance(rle['counts'], str):
                rle = dict(size=[int(h), int(w)], counts=rle['counts'].encode('ascii'))
            rles.append(rle)
        if len(sizes) > 1:
            raise ValueError(f'the RLE parts have different sizes {sorted(sizes)}')
    m = mask_utils.decode(rles)
    if m.ndim == 3:
        m = m.sum(axis=2)
    return (m > 0).astype(np.uint8)


#: Pillow modes of high-bit-depth single-channel images (16-bit, 32-bit int, 32-bit float).
HIGH_BIT_DEPTH_MODES = ('I;16', 'I;16L', 'I;16B', 'I;16N', 'I', 'F')
HIGH_BIT_DEPTH_RULES = ('range', 'minmax', 'error')


def high_bit_depth_to_uint8(arr: np.ndarray, mode: str, rule: str, path: str) -> np.ndarray:
    """Convert a high-bit-depth single-channel image to 8 bit by a documented rule.

    - ``'range'``: integer images are scaled by the 16-bit range, ``v * 255 / 65535``
      (rounded); float images are taken as [0, 1] and scaled by 255. Values outside that
      range are refused (use ``'minmax'``).
    - ``'minmax'``: ``(v - min) * 255 / (max - min)`` per image (a constant image gives 0).
    - ``'error'``: refuse.

    Returns:
        np.ndarray: (H, W) uint8.
    """
    if rule not in HIGH_BIT_DEPTH_RULES:
        raise ValueError(f'high_bit_depth must be one of {HIGH_BIT_DEPTH_RULES}, got {rule!r}')
    a = np.asarray(arr, dtype=np.float64)
    if rule == 'error':
        raise ValueError(f'{path} is a high-bit-depth image (Pillow mode {mode}); convert it '
                         "to 8-bit RGB or set LoadRRSISImageFromFile(high_bit_depth='range' | "
                         "'minmax')")
    if not np.isfinite(a).all():
        raise ValueError(f'{path} (Pillow mode {mode}) has non-finite pixel values')
    if rule == 'minmax':
        lo, hi = float(a.min()), float(a.max())
        scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    else:
        top = 1.0 if mode == 'F' else 65535.0
        if a.min() < 0 or a.max() > top:
            raise ValueError(f'{path} (Pillow mode {mode}) has values in [{a.min():g}, '
                             f"{a.max():g}], outside the [0, {top:g}] that high_bit_depth="
                             "'range' scales; set high_bit_depth='minmax'")
        scaled = a * (255.0 / top)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


@TRANSFORMS.register_module()
class LoadRRSISImageFromFile(MMCVLoadImageFromFile):
    """``LoadImageFromFile`` whose errors name the file and the problem.

    Defaults to ``imdecode_backend='pillow'`` (the reference loaders use
    ``PIL.Image.open(...).convert('RGB')``) and ``color_type='color'``, so grayscale, palette
    and RGBA images all become 3-channel BGR (mmcv's channel order; the data preprocessor
    swaps to RGB).

    High-bit-depth single-channel images (Pillow modes ``I;16*``, ``I``, ``F``, e.g. 16-bit
    grey TIFFs), which ``convert('RGB')`` would clip to 255 (a white image), are converted by
    :func:`high_bit_depth_to_uint8` under ``high_bit_depth`` (logged once per transform) and
    replicated to 3 channels.

    An image that cannot be read (missing, corrupt, changed during a run) raises an error that
    names the file (``on_error='raise'``, the default). ``on_error='skip'`` instead logs the
    file with a running count and returns None, so that a *training* dataset draws another
    sample (MMEngine's ``BaseDataset`` refetch). Use it in train pipelines only: a test-mode
    dataset refuses the None (a skipped test sample would change the metric).

    Args:
        imdecode_backend (str): Defaults to ``'pillow'``.
        high_bit_depth (str): ``'range'``, ``'minmax'`` or ``'error'``. Defaults to
            ``'range'``.
        on_error (str): ``'raise'`` or ``'skip'``. Defaults to ``'raise'``.
        **kwargs: Other ``LoadImageFromFile`` arguments.
    """

    def __init__(self, imdecode_backend: str = 'pillow', high_bit_depth: str = 'range',
                 on_error: str = 'raise', **kwargs) -> None:
        if high_bit_depth not in HIGH_BIT_DEPTH_RULES:
            raise ValueError(f'high_bit_depth must be one of {HIGH_BIT_DEPTH_RULES}, got '
                             f'{high_bit_depth!r}')
        if on_error not in ('raise', 'skip'):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        super().__init__(imdecode_backend=imdecode_backend, **kwargs)
        self.high_bit_depth = high_bit_depth
        self.on_error = on_error
        self.num_skipped = 0  # per process (each dataloader worker counts its own)
        self._logged_high_bit = False

    def _load_high_bit_depth(self, results: dict) -> Optional[dict]:
        """The 8-bit BGR image of a high-bit-depth file, or None for other images."""
        import os.path as osp

        from PIL import Image
        path = results['img_path']
        if self.imdecode_backend != 'pillow' or not osp.isfile(path):
            return None
        try:
            with Image.open(path) as im:
                if im.mode not in HIGH_BIT_DEPTH_MODES:
                    return None
                mode = im.mode
                arr = np.asarray(im)
        except (OSError, SyntaxError, ValueError):
            return None  # the standard path reports the problem with the file named
        grey = high_bit_depth_to_uint8(arr, mode, self.high_bit_depth, path)
        if not self._logged_high_bit:
            how = ('scaled by the 16-bit range (v * 255 / 65535; float [0, 1] x 255)'
                   if self.high_bit_depth == 'range' else 'min/max-stretched per image')
            print_log(f'{path}: high-bit-depth image (Pillow mode {mode}) {how} to 8 bit and '
                      'replicated to 3 channels (LoadRRSISImageFromFile high_bit_depth); '
                      'further such images are converted the same way without a message',
                      logger='current', level=30)
            self._logged_high_bit = True
        img = np.repeat(grey[..., None], 3, axis=2)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def transform(self, results: dict) -> Optional[dict]:
        try:
            return self._load(results)
        except (FileNotFoundError, ValueError) as e:
            if self.on_error == 'raise':
                raise
            self.num_skipped += 1
            print_log(f'LoadRRSISImageFromFile(on_error=skip): skipped an unreadable image '
                      f'({self.num_skipped} in this process so far), another sample is drawn: '
                      f'{e}', logger='current', level=30)
            return None

    def _load(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        out = self._load_high_bit_depth(results)
        if out is not None:
            return out
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
    the reference loaders do; a ``mask_threshold`` in the data info overrides it, e.g.
    RISBench's 0), ``segmentation`` (REFER: polygons or RLE, union of the parts) or
    ``segmentations`` (one segmentation per referred object, union; an empty list is a
    no-target expression and gives an all-zero mask: NWPU-Refer).
    The result is (H, W) uint8 {0, 1} at the image's original size.

    A mask whose size differs from the loaded image is an error by default
    (``on_size_mismatch='error'``); ``'resize'`` nearest-resizes it to the image and logs a
    warning (RSRefSeg2's behaviour); ``'keep'`` keeps it at its own size and logs a warning
    (once per image): a following fixed-size ``Resize(keep_ratio=False)`` then resizes image
    and mask to the network size independently, as the official RRSIS-D loaders do (some
    RRSIS-D images are 800x801 or 800x787 while their RLE says 800x800; RMSIN issue #12).
    ``'keep'`` needs such a resize before anything compares the two. Must come after the
    image loading transform to be checked.

    Required keys: ``seg_map_path`` or ``segmentation`` (+ ``height``, ``width`` for polygons).
    Added keys: ``gt_seg_map``, ``seg_fields``.

    Args:
        fg_threshold (int): RefSegRS foreground threshold. Defaults to 50.
        on_size_mismatch (str): ``'error'``, ``'resize'`` or ``'keep'``. Defaults to
            ``'error'``.
    """

    def __init__(self, fg_threshold: int = 50, on_size_mismatch: str = 'error') -> None:
        if on_size_mismatch not in ('error', 'resize', 'keep'):
            raise ValueError("on_size_mismatch must be 'error', 'resize' or 'keep', "
                             f'got {on_size_mismatch!r}')
        self.fg_threshold = fg_threshold
        self.on_size_mismatch = on_size_mismatch
        self._reported = set()  # images whose mismatch was logged ('keep' logs once)

    def transform(self, results: dict) -> dict:
        if results.get('seg_map_path') is not None:
            source = results['seg_map_path']
            # a dataset may fix its own rule (RISBench: any non-zero pixel is foreground)
            mask = load_refsegrs_mask(source, results.get('mask_threshold', self.fg_threshold))
        elif results.get('segmentations') is not None:  # several objects, or none
            mask = self._union_of_targets(results)
            source = f"{results.get('img_path')} (ref {results.get('ref_id')})"
        elif results.get('segmentation') is not None:
            source = f"{results.get('img_path')} (ref {results.get('ref_id')}"
            if results.get('ann_id') is not None:
                source += f", annotation {results['ann_id']}"
            if results.get('ann_source'):
                source += f" in {results['ann_source']}"
            source += ')'
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
                raise ValueError(msg + " (set on_size_mismatch='resize' to resize it, or "
                                 "'keep' to resize both to the network size independently)")
            if self.on_size_mismatch == 'resize':
                print_log(msg + '; nearest-resizing the mask', logger='current', level=30)
                mask = cv2.resize(mask, (img_shape[1], img_shape[0]),
                                  interpolation=cv2.INTER_NEAREST)
            elif results.get('img_path') not in self._reported:
                self._reported.add(results.get('img_path'))
                print_log(msg + '; kept at its size: the fixed-size Resize resizes image and '
                          'mask independently, as the official loaders (logged once per '
                          'image)', logger='current', level=30)
        results['gt_seg_map'] = mask
        results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in results['seg_fields']:
            results['seg_fields'].append('gt_seg_map')
        return results

    @staticmethod
    def _union_of_targets(results: dict) -> np.ndarray:
        """Union of the masks of every referred object (``segmentations``: one REFER
        segmentation per object); an empty list is a no-target expression: an all-zero mask
        of the image size."""
        h, w = results.get('height'), results.get('width')
        if (h is None or w is None) and results.get('ori_shape') is not None:
            h, w = results['ori_shape'][:2]
        if (h is None or w is None) and results.get('img') is not None:
            h, w = results['img'].shape[:2]
        parts = results['segmentations']
        if not parts:
            if h is None or w is None:
                raise ValueError(f"no-target sample of {results.get('img_path')} (ref "
                                 f"{results.get('ref_id')}): the mask size is unknown; load "
                                 'the image first')
            return np.zeros((int(h), int(w)), np.uint8)
        masks = []
        for k, seg in enumerate(parts):
            try:
                masks.append(decode_refer_segmentation(seg, h, w))
            except Exception as e:
                raise ValueError(f"Cannot decode target {k} of {results.get('img_path')} (ref "
                                 f"{results.get('ref_id')}, annotation "
                                 f"{(results.get('ann_ids') or ['?'] * (k + 1))[k]}): {e}") from e
        if len({m.shape for m in masks}) > 1:
            raise ValueError(f"the targets of {results.get('img_path')} (ref "
                             f"{results.get('ref_id')}) have different sizes "
                             f'{sorted({m.shape for m in masks})}')
        return np.bitwise_or.reduce(np.stack(masks), axis=0).astype(np.uint8)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(fg_threshold={self.fg_threshold}, '
                f"on_size_mismatch='{self.on_size_mismatch}')")
