# Copyright (c) mmrrsis contributors. All rights reserved.
import inspect
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptSampleList, SampleList
from torch import Tensor

from mmrrsis.utils.entity_words import entity_lexicon, entity_token_mask, find_entity_spans
from .rrsis_encoder_decoder import RRSISEncoderDecoder, TextFeats, texts_from_metas

DMOLS_MODES = ('single_pass', 'second_pass')


def returns_text(module: Optional[nn.Module]) -> bool:
    """Whether ``module.forward`` can return updated words (``return_text``)."""
    return module is not None and 'return_text' in inspect.signature(
        module.forward).parameters


@MODELS.register_module()
class BTDNetEncoderDecoder(RRSISEncoderDecoder):
    """BTDNet: bidirectional alignment (BSC), twin-stream decoding (T-BTD) and, in training,
    the Dual-Modal Object Learning Strategy (D-MOLS).

    Compared with :class:`RRSISEncoderDecoder`:

    - The backbone and neck may update the words (``return_text``: ``BSCSwinTransformer``,
      ``BSCNeck``); the decode head and auxiliary heads get the *updated* words.
    - D-MOLS (``reconstruct_head`` set, training only): the entity words of a sample
      (``mmrrsis.utils.entity_words``; category vocabularies plus a rule lexicon) are erased,
      i.e. their word pieces become ``[MASK]`` (attention mask kept), with probability
      ``p_erase`` per sample; ``reconstruct_head`` recovers them from the multimodal visual
      features of the erased text, loss ``loss_rec``. Samples without an entity word erase
      nothing and do not enter ``loss_rec``.

      ``dmols_mode='single_pass'`` (models.md §4.5): the erased text is the text of the whole
      forward for the chosen samples (the segmentation loss always applies; no extra cost).
      ``'second_pass'``: segmentation on the original text, and a second text-encoder +
      backbone/neck pass on the erased text feeds the reconstruction (one more forward).
      Either way the reconstruction sees only the erased text (leak-free).
    - ``predict`` / ``tensor`` modes never run the erasure or ``reconstruct_head``.

    Paper: `BTDNet: Referring Remote Sensing Image Segmentation via Bidirectional Alignment
    Guided Joint Prediction <https://arxiv.org/abs/2502.08486>`_ (interpretation, see
    ``configs/btdnet/README.md``).

    Args:
        reconstruct_head (dict, optional): ``EntityReconstructHead`` config; ``text_dim``
            and ``vocab_size`` default to the text encoder's. None disables D-MOLS.
        p_erase (float): Probability that a training sample's entity words are erased.
            Defaults to 0.5.
        dmols_mode (str): ``'single_pass'`` or ``'second_pass'``. Defaults to
            ``'single_pass'``.
        rec_query (str): Queries of the reconstruction: ``'text'`` (text-encoder output of
            the erased text) or ``'updated_text'`` (after BSC). Defaults to ``'text'``.
        entity_source (str): ``'category+nouns'`` or ``'category'``. Defaults to
            ``'category+nouns'``.
        extra_entities (Sequence[str]): More entity names. Defaults to ().
        **kwargs: Arguments of :class:`RRSISEncoderDecoder`.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 text_encoder: ConfigType,
                 reconstruct_head: OptConfigType = None,
                 p_erase: float = 0.5,
                 dmols_mode: str = 'single_pass',
                 rec_query: str = 'text',
                 entity_source: str = 'category+nouns',
                 extra_entities: Sequence[str] = (),
                 **kwargs) -> None:
        super().__init__(
            backbone=backbone, decode_head=decode_head, text_encoder=text_encoder, **kwargs)
        if dmols_mode not in DMOLS_MODES:
            raise ValueError(f'dmols_mode must be one of {DMOLS_MODES}, got {dmols_mode!r}')
        if rec_query not in ('text', 'updated_text'):
            raise ValueError(f"rec_query must be 'text' or 'updated_text', got {rec_query!r}")
        self.p_erase = p_erase
        self.dmols_mode = dmols_mode
        self.rec_query = rec_query
        self.entity_lexicon = entity_lexicon(entity_source, extra_entities)
        self.reconstruct_head = None
        if reconstruct_head is not None:
            reconstruct_head = dict(reconstruct_head)
            reconstruct_head.setdefault('text_dim', self.text_encoder.out_channels)
            reconstruct_head.setdefault('vocab_size',
                                        int(self.text_encoder.model.config.vocab_size))
            self.reconstruct_head = MODELS.build(reconstruct_head)

    @property
    def with_reconstruct(self) -> bool:
        return self.reconstruct_head is not None

    # ------------------------------------------------------------ features
    def extract_feat_and_text(self, inputs: Tensor,
                              text: TextFeats) -> Tuple[List[Tensor], TextFeats]:
        """Fused maps and the words as updated by the backbone / neck.

        Args:
            inputs (Tensor): (B, 3, H, W).
            text (tuple[Tensor, Tensor]): ``(text_feats (B, L, C), text_mask (B, L))``.

        Returns:
            tuple: ``(maps, (text_feats, text_mask))``; the text is the input one where no
            module updates it.
        """
        modules = [self.backbone] + ([self.neck] if self.with_neck else [])
        x = inputs
        for module in modules:
            kwargs = self._text_kwargs(module, text)
            if returns_text(module):
                x, text = module(x, **kwargs, return_text=True)
            else:
                x = module(x, **kwargs)
        return x, text

    def extract_feat(self, inputs: Tensor, text: Optional[TextFeats] = None) -> List[Tensor]:
        """Fused maps only (see :meth:`extract_feat_and_text`)."""
        if text is None:
            raise ValueError('BTDNetEncoderDecoder.extract_feat needs the encoded text')
        return self.extract_feat_and_text(inputs, text)[0]

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Logits (B, 2, H, W) at the input size; no erasure, no reconstruction."""
        text = self.encode_text(texts_from_metas(batch_img_metas))
        x, text = self.extract_feat_and_text(inputs, text)
        kwargs = self._text_kwargs(self.decode_head, text)
        return self.decode_head.predict(x, batch_img_metas, self.test_cfg, **kwargs)

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        if data_samples is None:
            raise ValueError("tensor mode needs data_samples carrying the 'text' metainfo")
        text = self.text_encoder(texts_from_metas([s.metainfo for s in data_samples]))
        x, text = self.extract_feat_and_text(inputs, text)
        return self.decode_head.forward(x, **self._text_kwargs(self.decode_head, text))

    # --------------------------------------------------------------- D-MOLS
    def tokenize_with_entities(self, texts: Sequence[str]) -> Tuple[Dict[str, Tensor], Tensor]:
        """Tokenise as the text encoder does and mark the entity word pieces.

        Returns:
            tuple: ``tokens`` (``input_ids``, ``attention_mask`` [, ``token_type_ids``],
            each (B, L)) and ``entity_mask`` (B, L) bool.
        """
        encoder = self.text_encoder
        tokenizer = encoder.tokenizer
        if not getattr(tokenizer, 'is_fast', False):
            raise TypeError('D-MOLS aligns words and pieces through offset_mapping, which '
                            'needs a fast (Rust) tokenizer')
        enc = tokenizer(list(texts), padding='max_length', max_length=encoder.max_tokens,
                        truncation=True, return_offsets_mapping=True, return_tensors='pt')
        entity = [
            entity_token_mask(offsets.tolist(), find_entity_spans(text, self.entity_lexicon))
            for text, offsets in zip(texts, enc['offset_mapping'])
        ]
        device = next(encoder.model.parameters()).device
        tokens = {k: v.to(device) for k, v in enc.items()
                  if k in ('input_ids', 'attention_mask', 'token_type_ids')}
        return tokens, torch.tensor(entity, dtype=torch.bool, device=device)

    def erase_tokens(self, tokens: Dict[str, Tensor], erase_mask: Tensor) -> Dict[str, Tensor]:
        """Replace the erased pieces by the tokenizer's mask token (attention mask kept)."""
        mask_id = self.text_encoder.tokenizer.mask_token_id
        if mask_id is None:
            raise ValueError('the tokenizer has no mask token for D-MOLS erasure')
        return dict(tokens, input_ids=tokens['input_ids'].masked_fill(erase_mask, mask_id))

    def _encode_tokens(self, tokens: Dict[str, Tensor]) -> TextFeats:
        return self.text_encoder.encode(**tokens), tokens['attention_mask']

    def _reconstruct(self, maps: List[Tensor], raw_text: TextFeats,
                     updated_text: TextFeats) -> Tensor:
        query = raw_text if self.rec_query == 'text' else updated_text
        embeddings = None
        if self.reconstruct_head.tie_word_embeddings:
            embeddings = self.text_encoder.model.get_input_embeddings().weight
        return self.reconstruct_head(query[0], query[1], maps, embeddings)

    def reconstruction_logits(self, inputs: Tensor,
                              texts: Sequence[str]) -> Tuple[Tensor, Tensor, Tensor]:
        """Erase every entity word of ``texts`` and reconstruct them (diagnostics, tests).

        Returns:
            tuple[Tensor, Tensor, Tensor]: logits (B, L, V), original ids (B, L), erase
            mask (B, L) bool.
        """
        tokens, entity = self.tokenize_with_entities(texts)
        raw = self._encode_tokens(self.erase_tokens(tokens, entity))
        maps, updated = self.extract_feat_and_text(inputs, raw)
        return self._reconstruct(maps, raw, updated), tokens['input_ids'], entity

    # ---------------------------------------------------------------- loss
    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Segmentation losses of the heads (on the updated words) plus ``loss_rec``.

        Args:
            inputs (Tensor): (B, 3, H, W).
            data_samples (list[SegDataSample]): with ``gt_sem_seg`` and ``text`` metainfo.
        """
        texts = texts_from_metas([s.metainfo for s in data_samples])
        if self.with_reconstruct:
            tokens, entity = self.tokenize_with_entities(texts)
            chosen = torch.rand(len(texts), device=entity.device) < self.p_erase
            erase = entity & chosen[:, None]
            erased_tokens = self.erase_tokens(tokens, erase)
            seg_tokens = erased_tokens if self.dmols_mode == 'single_pass' else tokens
            raw = self._encode_tokens(seg_tokens)
        else:
            raw = self.text_encoder(texts)
        x, text = self.extract_feat_and_text(inputs, raw)

        losses = self._heads_loss(x, data_samples, text)

        if self.with_reconstruct:
            if self.dmols_mode == 'single_pass':
                rec_maps, rec_raw, rec_text = x, raw, text
            else:
                rec_raw = self._encode_tokens(erased_tokens)
                rec_maps, rec_text = self.extract_feat_and_text(inputs, rec_raw)
            logits = self._reconstruct(rec_maps, rec_raw, rec_text)
            losses['loss_rec'] = self.reconstruct_head.loss(logits, tokens['input_ids'], erase)
        return losses
