# Copyright (c) mmrrsis contributors. All rights reserved.
import inspect
import logging
import threading
from contextlib import contextmanager
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig, OptSampleList,
                         SampleList, add_prefix)
from torch import Tensor

from ...engine.optimizers.autocast_optim_wrapper import cpu_has_native_bf16
from ..layers.attention import check_attn_impl, set_attn_impl

TextFeats = Tuple[Tensor, Tensor]


def takes_text(module: Optional[nn.Module]) -> bool:
    """Whether ``module.forward`` accepts ``text_feats`` (a language-aware component)."""
    if module is None:
        return False
    return 'text_feats' in inspect.signature(module.forward).parameters


def texts_from_metas(metas: Sequence[dict]) -> List[str]:
    """The referring expressions of a batch, read from the samples' metainfo."""
    texts = []
    for meta in metas:
        if 'text' not in meta:
            raise KeyError(
                f"No 'text' in the metainfo of {meta.get('img_path', 'a sample')}: the test "
                "and train pipelines must end with PackRRSISInputs (or PackSegInputs with "
                "'text' in meta_keys)")
        texts.append(meta['text'])
    return texts


@MODELS.register_module()
class RRSISEncoderDecoder(EncoderDecoder):
    """Referring segmentor: text in, binary mask out.

    Encodes the batch's expressions once per forward with ``text_encoder`` and hands
    ``text_feats (B, L, C)`` and ``text_mask (B, L)`` (1 for real tokens) to every component
    whose ``forward`` takes ``text_feats``: a language-aware backbone (LAVT-style early fusion),
    a language-guided neck (late fusion over any MMSeg backbone), the decode head and auxiliary
    heads. Plain MMSeg components work unchanged. Predictions go through MMSeg's
    ``postprocess_result`` (whole / slide inference, flip un-doing, resize to ``ori_shape``).

    Evaluation resolution: with ``test_cfg.eval_at_input_res=True`` (the paper protocol) the
    logits stay at the network input resolution (``ori_shape`` is set to ``img_shape`` before
    post-processing); the test pipeline must then decode the mask before ``Resize`` so that the
    ground truth is nearest-resized to the same size (``SetOriShapeToImgShape`` in the dataset
    bases does the same on the pipeline side). With ``False`` predictions are resized to the
    original size (the original-resolution protocol).

    Inference precision: ``test_cfg.autocast='bfloat16'`` (or ``'float16'``) runs ``inference``
    (whole and slide, text encoder included) under ``torch.autocast`` on the inputs' device and
    returns float32 logits; unset (the default of every paper config) it runs in float32, so
    evaluation reproduces float32 reference numbers. Training precision is the optimizer
    wrapper's (``AutocastOptimWrapper``).

    Args:
        backbone (dict): Backbone config (language-aware or any MMSeg backbone).
        decode_head (dict): Decode head config.
        text_encoder (dict): Text encoder config (e.g. ``HFTextEncoder``).
        neck (dict, optional): Neck config (e.g. ``LanguageFusionNeck``).
        auxiliary_head (dict | list, optional): Auxiliary heads.
        train_cfg (dict, optional), test_cfg (dict, optional): As in ``EncoderDecoder``.
        data_preprocessor (dict, optional): Usually ``SegDataPreProcessor``.
        pretrained (str, optional): Backbone checkpoint (as in ``EncoderDecoder``).
        init_cfg (dict, optional): Initialization config.
        attn_impl (str): Attention kernels of the switchable modules (Swin window attention,
            pixel-word attention, RMSIN's cross-scale attention): ``'eager'`` (plain matrix
            products, the reference codes' operations) or ``'sdpa'`` (PyTorch's fused
            ``scaled_dot_product_attention``; the same values up to float rounding, same
            parameters). See :func:`mmrrsis.models.layers.set_attn_impl`. Defaults to
            ``'eager'``.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 text_encoder: ConfigType,
                 neck: OptConfigType = None,
                 auxiliary_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None,
                 attn_impl: str = 'eager') -> None:
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            neck=neck,
            auxiliary_head=auxiliary_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            pretrained=pretrained,
            init_cfg=init_cfg)
        self.text_encoder = MODELS.build(text_encoder)
        # the texts of the forward in progress, per thread: one model serves several request
        # threads (the inferencer, the web demo), and a crop must read its own request's text
        self._cached_text: Dict[int, TextFeats] = {}
        autocast = self.test_cfg.get('autocast') if self.test_cfg else None
        if autocast not in (None, 'bfloat16', 'float16'):
            raise ValueError(f"test_cfg.autocast must be None, 'bfloat16' or 'float16', got "
                             f'{autocast!r}')
        self.attn_impl = check_attn_impl(attn_impl)
        set_attn_impl(self, attn_impl)

    # ------------------------------------------------------------------ text
    def encode_text(self, texts: List[str]) -> TextFeats:
        """Encode expressions: ``(text_feats (B, L, C), text_mask (B, L))``."""
        cached = self._cached_text.get(threading.get_ident())
        if cached is not None:  # slide inference: encoded once per forward
            return cached
        return self.text_encoder(texts)

    @contextmanager
    def _text_cache(self, text: TextFeats):
        """Serve ``text`` to :meth:`encode_text` calls of this thread inside the block."""
        key = threading.get_ident()
        self._cached_text[key] = text
        try:
            yield
        finally:
            self._cached_text.pop(key, None)

    @staticmethod
    def _text_kwargs(module: Optional[nn.Module], text: TextFeats) -> Dict[str, Tensor]:
        if takes_text(module):
            return dict(text_feats=text[0], text_mask=text[1])
        return {}

    # ------------------------------------------------------------ features
    def extract_feat(self, inputs: Tensor, text: Optional[TextFeats] = None) -> List[Tensor]:
        """Visual features, fused with language where the backbone / neck take it.

        Args:
            inputs (Tensor): (B, 3, H, W).
            text (tuple[Tensor, Tensor]): ``(text_feats (B, L, C), text_mask (B, L))``.
        """
        if text is None and (takes_text(self.backbone) or takes_text(getattr(self, 'neck', None))):
            raise ValueError('This segmentor fuses language in the backbone or neck; '
                             'extract_feat needs the encoded text')
        x = self.backbone(inputs, **self._text_kwargs(self.backbone, text))
        if self.with_neck:
            x = self.neck(x, **self._text_kwargs(self.neck, text))
        return x

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Logits (B, num_classes, H, W) at the input size; texts come from the metas."""
        text = self.encode_text(texts_from_metas(batch_img_metas))
        x = self.extract_feat(inputs, text)
        kwargs = self._text_kwargs(self.decode_head, text)
        if kwargs:
            return self.decode_head.predict(x, batch_img_metas, self.test_cfg, **kwargs)
        return self.decode_head.predict(x, batch_img_metas, self.test_cfg)

    def inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Whole or slide inference with the texts encoded once for all crops."""
        autocast = self.test_cfg.get('autocast')
        if autocast == 'bfloat16' and inputs.device.type == 'cpu' and \
                not cpu_has_native_bf16():
            if not getattr(self, '_warned_bf16', False):
                print_log('test_cfg.autocast=bfloat16: this CPU has no native bfloat16 '
                          '(emulated bfloat16 is several times slower); inference runs in '
                          'float32', logger='current', level=logging.WARNING)
                self._warned_bf16 = True
            autocast = None
        if autocast:
            with torch.autocast(device_type=inputs.device.type, dtype=getattr(torch, autocast)):
                text = self.text_encoder(texts_from_metas(batch_img_metas))
                with self._text_cache(text):
                    logits = super().inference(inputs, batch_img_metas)
            return logits.float()
        text = self.text_encoder(texts_from_metas(batch_img_metas))
        with self._text_cache(text):
            return super().inference(inputs, batch_img_metas)

    # --------------------------------------------------------------- modes
    def _head_loss(self, head: nn.Module, x: List[Tensor], data_samples: SampleList,
                   text: TextFeats) -> dict:
        kwargs = self._text_kwargs(head, text)
        if kwargs:
            return head.loss(x, data_samples, self.train_cfg, **kwargs)
        return head.loss(x, data_samples, self.train_cfg)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Losses of the decode head and the auxiliary heads.

        Args:
            inputs (Tensor): (B, 3, H, W).
            data_samples (list[SegDataSample]): with ``gt_sem_seg`` and ``text`` metainfo.
        """
        text = self.text_encoder(texts_from_metas([s.metainfo for s in data_samples]))
        x = self.extract_feat(inputs, text)
        return self._heads_loss(x, data_samples, text)

    def _heads_loss(self, x: List[Tensor], data_samples: SampleList, text: TextFeats) -> dict:
        """Losses of the decode head (``decode.*``) and the auxiliary heads (``aux*``)."""
        losses = dict()
        losses.update(add_prefix(self._head_loss(self.decode_head, x, data_samples, text),
                                 'decode'))
        if self.with_auxiliary_head:
            heads = self.auxiliary_head if isinstance(self.auxiliary_head,
                                                      nn.ModuleList) else [self.auxiliary_head]
            for idx, head in enumerate(heads):
                prefix = f'aux_{idx}' if isinstance(self.auxiliary_head, nn.ModuleList) else 'aux'
                losses.update(add_prefix(self._head_loss(head, x, data_samples, text), prefix))
        return losses

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """Predict masks; ``test_cfg.eval_at_input_res`` keeps them at the input resolution."""
        if data_samples is None:
            raise ValueError('RRSISEncoderDecoder.predict needs data_samples carrying the '
                             "'text' metainfo")
        if self.test_cfg.get('eval_at_input_res', False):
            for sample in data_samples:
                shape = sample.metainfo.get('img_shape')
                sample.set_metainfo(dict(ori_shape=tuple(shape[:2])))
        return super().predict(inputs, data_samples)

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """Raw decode-head output (``tensor`` mode)."""
        if data_samples is None:
            raise ValueError("tensor mode needs data_samples carrying the 'text' metainfo")
        text = self.text_encoder(texts_from_metas([s.metainfo for s in data_samples]))
        x = self.extract_feat(inputs, text)
        kwargs = self._text_kwargs(self.decode_head, text)
        return self.decode_head.forward(x, **kwargs)
