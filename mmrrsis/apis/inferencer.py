# Copyright (c) mmrrsis contributors. All rights reserved.
import copy
import os
import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

ImageType = Union[str, np.ndarray]

_DROP_AT_INFERENCE = ('LoadRRSISAnnotations', 'LoadAnnotations', 'SetOriShapeToImgShape',
                      'RandomTextFlip', 'RandomFlip', 'RandomBlackBoxes')


class RRSISInferencer:
    """Image(s) + expression(s) -> binary masks, with optional overlays.

    Example::

        >>> from mmrrsis.apis import RRSISInferencer
        >>> inferencer = RRSISInferencer('configs/lavt/xxx.py', 'work_dirs/xxx/best.pth')
        >>> out = inferencer('demo.tif', 'the storage tank on the left', out_dir='vis/')
        >>> out['masks'][0].shape  # (H, W) uint8 {0, 1} at the image's size

    The test pipeline of the config is reused without annotation loading; masks are returned
    at the original image size (MMSeg's ``postprocess_result``), whatever protocol the config
    evaluates with.

    Checkpoints are Runner checkpoints (or plain state dicts) loaded with torch's
    ``weights_only`` unpickler and the plain-data allowlist of
    :mod:`mmrrsis.utils.checkpoint`: a checkpoint holding any other object is refused with a
    message naming it. ``trust_checkpoint=True`` is the explicit opt-in to the full unpickler
    (it can run code from the file: only for files you trust).

    Inputs: images are file paths or (H, W, 3) ``uint8`` BGR arrays (mmcv's order); texts are
    ``str`` (an empty one is encoded as ``[CLS] [SEP]`` with a logged warning, a long one is
    truncated to the text encoder's ``max_tokens``). Anything else is refused up front with a
    message saying what is accepted.

    Args:
        model (str | Config): Config file or object.
        weights (str, optional): Checkpoint. Without it the model keeps ``init_weights()``
            weights (useful for smoke tests only).
        device (str): ``'cpu'``, ``'cuda'`` ... Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into the config.
        trust_checkpoint (bool): Load ``weights`` with the full unpickler. Defaults to False.
    """

    def __init__(self,
                 model: Union[str, Config],
                 weights: Optional[str] = None,
                 device: str = 'cpu',
                 cfg_options: Optional[dict] = None,
                 trust_checkpoint: bool = False) -> None:
        import mmrrsis  # noqa: F401  (registers the components)
        from mmseg.registry import MODELS
        cfg = Config.fromfile(model) if isinstance(model, str) else copy.deepcopy(model)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        self.cfg = cfg
        model_cfg = copy.deepcopy(cfg.model)
        model_cfg.train_cfg = None
        if weights is not None:
            self._strip_pretrained(model_cfg)
        self.model = MODELS.build(model_cfg)
        if weights is None:
            self.model.init_weights()
        else:
            from mmrrsis.utils.checkpoint import load_checkpoint_file
            ckpt = load_checkpoint_file(weights, map_location='cpu', trust=trust_checkpoint)
            state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
            missing, unexpected = self.model.load_state_dict(state, strict=False)
            if missing:
                raise RuntimeError(f'{weights} does not fit the model of the config: '
                                   f'{len(missing)} missing keys, e.g. {missing[:5]}')
        self.model.to(device).eval()
        # logits come back at the network input size; __call__ resizes them to the original
        # size itself, memory-bounded (see _to_original)
        self.model.test_cfg = copy.deepcopy(self.model.test_cfg)
        self.model.test_cfg['eval_at_input_res'] = True
        self.device = device
        pipeline = [t for t in cfg.test_dataloader.dataset.pipeline
                    if t['type'] not in _DROP_AT_INFERENCE]
        self._file_pipeline = Compose(pipeline)
        array_pipeline = copy.deepcopy(pipeline)
        array_pipeline[0] = dict(type='LoadImageFromNDArray')
        self._array_pipeline = Compose(array_pipeline)
        self._visualizer = None

    @staticmethod
    def _strip_pretrained(cfg) -> None:
        """Weights come from the checkpoint: do not look for pretrained files."""
        if isinstance(cfg, dict):
            for key in list(cfg):
                if key == 'init_cfg':
                    cfg[key] = None
                elif key == 'pretrained':
                    cfg[key] = False if isinstance(cfg[key], bool) else None
                else:
                    RRSISInferencer._strip_pretrained(cfg[key])
        elif isinstance(cfg, (list, tuple)):
            for c in cfg:
                RRSISInferencer._strip_pretrained(c)

    @staticmethod
    def check_image(image, index: int = 0) -> None:
        """Refuse anything but a path or an (H, W, 3) uint8 array, saying what is accepted."""
        accepted = 'images must be file paths or (H, W, 3) uint8 BGR arrays'
        if isinstance(image, str):
            if not osp.isfile(image):
                raise FileNotFoundError(f'image {index}: file not found: {image}')
            return
        if not isinstance(image, np.ndarray):
            raise TypeError(f'image {index}: got {type(image).__name__}; {accepted}')
        if image.ndim != 3 or image.shape[2] != 3:
            hint = (' (a grey image: np.repeat(img[..., None], 3, axis=2))' if image.ndim == 2
                    else ' (RGBA: drop the alpha channel, img[..., :3])'
                    if image.ndim == 3 and image.shape[2] == 4 else '')
            raise ValueError(f'image {index}: got an array of shape {image.shape}; '
                             f'{accepted}{hint}')
        if image.dtype != np.uint8:
            raise ValueError(f'image {index}: got dtype {image.dtype}; {accepted} (scale '
                             'float images in [0, 1] by 255 and cast: (img * 255).round()'
                             '.astype(np.uint8))')
        if min(image.shape[:2]) < 1:
            raise ValueError(f'image {index}: empty array of shape {image.shape}')

    def _prepare(self, image: ImageType, text: str) -> dict:
        if isinstance(image, str):
            return self._file_pipeline(dict(img_path=image, text=text, ref_id=None,
                                            sent_id=None, category=None))
        return self._array_pipeline(dict(img=image, text=text, ref_id=None, sent_id=None,
                                         category=None))

    @classmethod
    def _pair(cls, images, texts):
        if images is None:
            raise TypeError('images is None; give a path, an (H, W, 3) uint8 BGR array or a '
                            'list of them')
        if texts is None:
            raise TypeError('texts is None; give an expression (str) or a list of them')
        if not isinstance(images, (str, np.ndarray, list, tuple)):
            raise TypeError(f'images: got {type(images).__name__}; images must be file paths '
                            'or (H, W, 3) uint8 BGR arrays, or a list of them')
        if not isinstance(texts, (str, list, tuple)):
            raise TypeError(f'texts: got {type(texts).__name__}; give an expression (str) or a '
                            'list of them')
        images = [images] if isinstance(images, (str, np.ndarray)) else list(images)
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not images or not texts:
            raise ValueError(f'{len(images)} images and {len(texts)} expressions: both are '
                             'needed')
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f'expression {i}: got {type(text).__name__}; expressions '
                                'must be str')
        for i, image in enumerate(images):
            cls.check_image(image, i)
        if len(images) == 1 and len(texts) > 1:
            images = images * len(texts)
        elif len(texts) == 1 and len(images) > 1:
            texts = texts * len(images)
        if len(images) != len(texts):
            raise ValueError(f'{len(images)} images but {len(texts)} expressions: give one '
                             'of each per sample, or one image / one expression for all')
        return images, texts

    @torch.no_grad()
    def __call__(self,
                 images: Union[ImageType, Sequence[ImageType]],
                 texts: Union[str, Sequence[str]],
                 batch_size: int = 1,
                 out_dir: Optional[str] = None,
                 return_vis: bool = False) -> dict:
        """Segment the object each expression refers to.

        Args:
            images: A path or BGR array, or a list (one per expression, or one for all).
            texts: An expression or a list (one per image, or one for all).
            batch_size (int): Samples per forward. Defaults to 1.
            out_dir (str, optional): Write overlay PNGs ``<i>.png`` there.
            return_vis (bool): Also return the overlays (RGB arrays).

        Returns:
            dict: ``masks`` (list of (H, W) uint8 {0, 1}), ``scores`` (foreground softmax
            probability maps, float32) and ``visualization`` when requested.
        """
        images, texts = self._pair(images, texts)
        masks, scores, vis = [], [], []
        for start in range(0, len(images), batch_size):
            batch = [self._prepare(i, t) for i, t in zip(images[start:start + batch_size],
                                                          texts[start:start + batch_size])]
            ori_shapes = [tuple(b['data_samples'].metainfo['ori_shape'][:2]) for b in batch]
            results = self.model.test_step(pseudo_collate(batch))
            for res, image, ori_shape in zip(results, images[start:start + batch_size],
                                             ori_shapes):
                mask, prob = self._to_original(res.seg_logits.data, ori_shape)
                masks.append(mask)
                scores.append(prob)
                if out_dir is not None or return_vis:
                    vis.append(self._draw(image, res.metainfo.get('text', ''), mask))
        if out_dir is not None:
            os.makedirs(out_dir, exist_ok=True)
            from PIL import Image
            for i, v in enumerate(vis):
                Image.fromarray(v).save(osp.join(out_dir, f'{i}.png'))
        out = dict(masks=masks, scores=scores)
        if return_vis:
            out['visualization'] = vis
        return out

    def _to_original(self, logits: torch.Tensor, ori_shape) -> tuple:
        """Mask (H, W) uint8 and foreground probability (H, W) float32 at the original size
        from logits (C, h, w) at the network input size.

        Two classes: the logit difference ``l1 - l0`` is upsampled (bilinear, the model's
        ``align_corners``; the same as upsampling both logits, bilinear being linear), then
        ``mask = d > 0`` (argmax, ties to background) and ``prob = sigmoid(d)`` (the softmax
        of two logits), in place. Peak memory: about 9 bytes per original pixel (the float32
        map, the mask and the returned arrays), instead of MMSeg's two-channel resize, softmax
        and int64 argmax (about 32 bytes per pixel: 2 GB for an 8000x8000 image).
        """
        align = bool(getattr(self.model.decode_head, 'align_corners', False))
        if logits.shape[0] == 2:
            d, cut = (logits[1] - logits[0]).float(), 0.0
        elif logits.shape[0] == 1:  # sigmoid head: its threshold, in logit space
            threshold = float(getattr(self.model.decode_head, 'threshold', 0.5) or 0.5)
            d, cut = logits[0].float(), float(np.log(threshold / (1 - threshold)))
        else:
            raise ValueError(f'RRSISInferencer expects 1 or 2 output channels, got '
                             f'{logits.shape[0]}')
        if tuple(d.shape) != tuple(ori_shape):
            d = F.interpolate(d[None, None], size=tuple(ori_shape), mode='bilinear',
                              align_corners=align)[0, 0]
        mask = (d > cut).to(torch.uint8).cpu().numpy()
        return mask, torch.sigmoid_(d).cpu().numpy()

    @staticmethod
    def _draw(image: ImageType, text: str, mask: np.ndarray) -> np.ndarray:
        import mmcv

        from mmrrsis.visualization import draw_referring_overlay
        if isinstance(image, str):
            img = mmcv.imread(image, channel_order='rgb', backend='pillow')
        else:
            img = mmcv.bgr2rgb(image)
        if img.shape[:2] != mask.shape:
            img = mmcv.imresize(img, (mask.shape[1], mask.shape[0]))
        return draw_referring_overlay(img, None, text, pred_mask=mask)


def segment(inferencer: RRSISInferencer, image: ImageType, text: str) -> np.ndarray:
    """One image, one expression -> (H, W) uint8 mask."""
    return inferencer(image, text)['masks'][0]


__all__: List[str] = ['RRSISInferencer', 'segment']
