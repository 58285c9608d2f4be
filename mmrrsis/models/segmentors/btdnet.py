# Copyright (c) mmrrsis contributors. All rights reserved.
import inspect
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptSampleList, SampleList
from torch import Tensor

from mmrrsis.utils.entity_words import (ERASE_POLICIES, choose_erase_spans, entity_lexicon,
                                        entity_token_mask, find_entity_spans)
from .rrsis_encoder_decoder import RRSISEncoderDecoder, TextFeats, texts_from_metas

DMOLS_MODES = ('side_branch', 'single_pass', 'second_pass')


def returns_text(module: Optional[nn.Module]) -> bool:
    """Whether ``module.forward`` can return updated words (``return_text``)."""
    return module is not None and 'return_text' in inspect.signature(
        module.forward).parameters


@MODELS.register_module()
class BTDNetEncoderDecoder(RRSISEncoderDecoder):
    """BTDNet: bidirectional alignment (BSC), twin-stream decoding (T-BTD) and, in training,
    the Dual-Modal Object Learning Strategy (D-MOLS, the loss component ``loss_dmols``).

    Compared with :class:`RRSISEncoderDecoder`:

    - The backbone and neck may update the words (``return_text``: ``BSCSwinTransformer``,
      ``BSCNeck``); the decode head and auxiliary heads get the *updated* words.
    - D-MOLS (``loss_dmols`` set, training only): with probability ``p_erase`` per sample the
      entity words (``mmrrsis.utils.entity_words``) are erased, i.e. their word pieces become
      ``[MASK]`` (attention mask kept): all of them (``erase='all_entities'``) or one run of
      adjacent entity words (``'one_run'``). Full and erased texts are encoded in **one**
      text-encoder call (a 2B batch). ``DMOLSLoss`` reconstructs from the erased words and a
      fused visual map; samples without an erased piece do not enter ``loss_rec``.

      ``dmols_mode='side_branch'`` (default; DMMI's scheme): the segmentation always runs on
      the full text; the erased words only query the reconstruction, whose memory is a fused
      map of that full-text forward (``loss_dmols.memory``). No second backbone pass.
      ``'single_pass'``: the erased text is the text of the whole forward for the chosen
      samples (the segmentation is trained on it too). ``'second_pass'``: segmentation on the
      full text, a second backbone/neck pass on the erased text feeds the reconstruction.
    - ``predict`` / ``tensor`` modes never run the erasure or ``loss_dmols``.

    Paper: `BTDNet: Referring Remote Sensing Image Segmentation via Bidirectional Alignment
    Guided Joint Prediction <https://arxiv.org/abs/2502.08486>`_ (interpretation, see
    ``configs/btdnet/README.md``).

    Args:
        loss_dmols (dict, optional): ``DMOLSLoss`` config; ``text_dim``, ``vocab_size`` and
            ``visual_channels`` default to the text encoder's and the memory map's. None
            disables D-MOLS.
        p_erase (float): Probability that a training sample is erased. Defaults to 0.5.
        dmols_mode (str): ``'side_branch'``, ``'single_pass'`` or ``'second_pass'``.
            Defaults to ``'side_branch'``.
        erase (str): ``'all_entities'`` or ``'one_run'``. Defaults to ``'all_entities'``.
        rec_query (str): Queries of the reconstruction in the pass modes: ``'text'``
            (text-encoder output of the erased text) or ``'updated_text'`` (after BSC).
            ``side_branch`` always uses ``'text'``. Defaults to ``'text'``.
        entity_source (str): ``'category+nouns'`` or ``'category'``. Defaults to
            ``'category+nouns'``.
        extra_entities (Sequence[str]): More entity names. Defaults to ().
        **kwargs: Arguments of :class:`RRSISEncoderDecoder`.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 text_encoder: ConfigType,
                 loss_dmols: OptConfigType = None,
                 p_erase: float = 0.5,
                 dmols_mode: str = 'side_branch',
                 erase: str = 'all_entities',
                 rec_query: str = 'text',
                 entity_source: str = 'category+nouns',
                 extra_entities: Sequence[str] = (),
                 **kwargs) -> None:
        super().__init__(
            backbone=backbone, decode_head=decode_head, text_encoder=text_encoder, **kwargs)
        if dmols_mode not in DMOLS_MODES:
            raise ValueError(f'dmols_mode must be one of {DMOLS_MODES}, got {dmols_mode!r}')
        if erase not in ERASE_POLICIES:
            raise ValueError(f'erase must be one of {ERASE_POLICIES}, got {erase!r}')
        if rec_query not in ('text', 'updated_text'):
            raise ValueError(f"rec_query must be 'text' or 'updated_text', got {rec_query!r}")
        self.p_erase = p_erase
        self.dmols_mode = dmols_mode
        self.erase = erase
        self.rec_query = rec_query
        self.entity_lexicon = entity_lexicon(entity_source, extra_entities)
        self.loss_dmols = None
        if loss_dmols is not None:
            loss_dmols = dict(loss_dmols)
            loss_dmols.setdefault('text_dim', self.text_encoder.out_channels)
            if loss_dmols.get('target', 'feature') == 'token':
                loss_dmols.setdefault('vocab_size',
                                      int(self.text_encoder.model.config.vocab_size))
            loss_dmols.setdefault('visual_channels',
                                  self._memory_channels(loss_dmols.get('memory', '1/8')))
            self.loss_dmols = MODELS.build(loss_dmols)
            if (self.loss_dmols.target == 'feature' and self.loss_dmols.feature_source
                    == 'updated' and dmols_mode == 'single_pass'):
                raise ValueError("dmols_mode='single_pass' has no updated full-text words for "
                                 "loss_dmols.feature_source='updated' (the forward runs on the "
                                 "erased text); use 'encoded' or another mode")

    @property
    def with_dmols(self) -> bool:
        return self.loss_dmols is not None

    def _memory_channels(self, memory: str) -> int:
        """Channels of the memory map: a decode-head input level or T-BTD's MCI map."""
        head = self.decode_head
        if memory == 'mci':
            if not hasattr(head, 'decode_feature'):
                raise ValueError("loss_dmols.memory='mci' needs a decode head with an MCI map "
                                 '(TBTDHead)')
            return int(head.channels)
        widths = head.in_channels if isinstance(head.in_channels, (list, tuple)) else [
            head.in_channels]
        return int(widths[-1] if memory == 'coarsest' else widths[min(1, len(widths) - 1)])

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
    def tokenize_with_entities(self, texts: Sequence[str],
                               u: Optional[Tensor] = None) -> Tuple[Dict[str, Tensor], Tensor]:
        """Tokenise as the text encoder does and mark the pieces to erase.

        Args:
            texts (Sequence[str]): Expressions.
            u (Tensor, optional): (B,) uniform numbers choosing the run of ``erase='one_run'``.
                Defaults to 0 (the first run).

        Returns:
            tuple: ``tokens`` (``input_ids``, ``attention_mask`` [, ``token_type_ids``],
            each (B, L)) and ``entity_mask`` (B, L) bool (pieces of the chosen entity words).
        """
        encoder = self.text_encoder
        tokenizer = encoder.tokenizer
        if not getattr(tokenizer, 'is_fast', False):
            raise TypeError('D-MOLS aligns words and pieces through offset_mapping, which '
                            'needs a fast (Rust) tokenizer')
        enc = tokenizer(list(texts), padding='max_length', max_length=encoder.max_tokens,
                        truncation=True, return_offsets_mapping=True, return_tensors='pt')
        us = [0.0] * len(texts) if u is None else u.tolist()
        entity = [
            entity_token_mask(
                offsets.tolist(),
                choose_erase_spans(text, find_entity_spans(text, self.entity_lexicon),
                                   self.erase, uk))
            for text, offsets, uk in zip(texts, enc['offset_mapping'], us)
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

    def _encode_full_and_erased(self, tokens: Dict[str, Tensor],
                                erase: Tensor) -> Tuple[TextFeats, TextFeats]:
        """One text-encoder call on the 2B batch [full; erased]."""
        erased = self.erase_tokens(tokens, erase)
        both = {k: torch.cat([tokens[k], erased[k]]) for k in tokens}
        feats, mask = self._encode_tokens(both)
        B = erase.shape[0]
        return (feats[:B], mask[:B]), (feats[B:], mask[B:])

    def draw_erasure(self, texts: Sequence[str]) -> Tuple[Dict[str, Tensor], Tensor]:
        """Tokens of ``texts`` and the erase mask (B, L) of this step.

        The random numbers (a per-sample choice and a per-sample run choice) are drawn for
        every sample whatever ``p_erase`` and the texts are, so the random stream of the rest
        of the step does not depend on the erasure.
        """
        chosen_u = torch.rand(len(texts))
        run_u = torch.rand(len(texts))
        tokens, entity = self.tokenize_with_entities(texts, run_u)
        chosen = (chosen_u < self.p_erase).to(entity.device)
        return tokens, entity & chosen[:, None]

    def _memory(self, maps: Sequence[Tensor]) -> Tensor:
        """The memory map of the reconstruction (see ``DMOLSLoss.memory``)."""
        memory = self.loss_dmols.memory
        if memory == 'mci':
            d = getattr(self.decode_head, 'last_decode_feature', None)
            if d is None or self.dmols_mode == 'second_pass':  # not the full-text head's map
                d = self.decode_head.decode_feature(maps)
            return d
        return maps[-1] if memory == 'coarsest' else maps[min(1, len(maps) - 1)]

    def _word_embeddings(self) -> Optional[Tensor]:
        if self.loss_dmols.tie_word_embeddings:
            return self.text_encoder.model.get_input_embeddings().weight
        return None

    def _dmols_features(self, inputs: Tensor, tokens: Dict[str, Tensor], erase: Tensor,
                        data_samples: Optional[SampleList] = None) -> Tuple[dict, dict]:
        """The forward of a D-MOLS step up to the reconstruction's inputs.

        Returns:
            tuple[dict, dict]: the segmentation losses (empty without ``data_samples``) and the
            reconstruction inputs ``query`` (words, mask), ``memory`` (B, C, H, W),
            ``target_feats`` (B, L, C_t) and ``sample_mask`` (B,).
        """
        full, erased = self._encode_full_and_erased(tokens, erase)
        sample_mask = erase.any(dim=1)
        if self.dmols_mode == 'single_pass':  # erased text for the chosen samples
            seg_raw = (torch.where(sample_mask[:, None, None], erased[0], full[0]), full[1])
        else:
            seg_raw = full
        x, text = self.extract_feat_and_text(inputs, seg_raw)
        losses = self._heads_loss(x, data_samples, text) if data_samples is not None else {}
        if self.dmols_mode == 'second_pass':
            rec_maps, rec_updated = self.extract_feat_and_text(inputs, erased)
        else:
            rec_maps, rec_updated = x, text
        query = erased
        if self.rec_query == 'updated_text' and self.dmols_mode != 'side_branch':
            query = rec_updated
        memory = self._memory(rec_maps)
        if hasattr(self.decode_head, 'last_decode_feature'):
            self.decode_head.last_decode_feature = None  # free the reference
        target = text[0] if self.loss_dmols.feature_source == 'updated' else full[0]
        return losses, dict(query=query, memory=memory, target_feats=target,
                            sample_mask=sample_mask)

    def dmols_forward(self, inputs: Tensor, data_samples: SampleList,
                      shuffle_memory: bool = False) -> Tuple[dict, Tensor]:
        """The training forward with D-MOLS: segmentation losses and ``loss_rec``.

        Args:
            inputs (Tensor): (B, 3, H, W).
            data_samples (list[SegDataSample]): with ``gt_sem_seg`` and ``text`` metainfo.
            shuffle_memory (bool): Roll the memory maps by one sample across the batch before
                the reconstruction (the grounding diagnostic). Defaults to False.

        Returns:
            tuple[dict, Tensor]: The segmentation losses and ``loss_rec``.
        """
        texts = texts_from_metas([s.metainfo for s in data_samples])
        tokens, erase = self.draw_erasure(texts)
        losses, rec = self._dmols_features(inputs, tokens, erase, data_samples)
        memory = rec['memory'].roll(1, dims=0) if shuffle_memory else rec['memory']
        loss_rec = self.loss_dmols(
            rec['query'][0], rec['query'][1], memory, erase, target_feats=rec['target_feats'],
            target_ids=tokens['input_ids'], word_embeddings=self._word_embeddings(),
            sample_mask=rec['sample_mask'])
        return losses, loss_rec

    @torch.no_grad()
    def dmols_diagnostics(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, float]:
        """Unweighted ``loss_rec`` of one erasure draw, three ways (grounding diagnostic).

        One forward as in :meth:`dmols_forward` (same random draws), then the loss with the
        memory as computed (``loss_rec``), with the memory rolled by one sample across the
        batch (``loss_rec_shuffled``) and of the best constant predictor of the same targets
        (``loss_rec_constant``, :meth:`DMOLSLoss.constant_loss`).
        """
        texts = texts_from_metas([s.metainfo for s in data_samples])
        tokens, erase = self.draw_erasure(texts)
        _, rec = self._dmols_features(inputs, tokens, erase, data_samples)
        q, q_mask, memory = rec['query'][0], rec['query'][1], rec['memory']
        targets = dict(target_feats=rec['target_feats'], target_ids=tokens['input_ids'])
        out = {}
        embeddings = self._word_embeddings()
        for key, mem in (('loss_rec', memory), ('loss_rec_shuffled', memory.roll(1, dims=0))):
            out[key] = self.loss_dmols(q, q_mask, mem, erase, word_embeddings=embeddings,
                                       sample_mask=rec['sample_mask'], **targets)
        real = q_mask.bool() & rec['sample_mask'][:, None]
        out['loss_rec_constant'] = self.loss_dmols.constant_loss(erase.bool() & real, real,
                                                                 **targets)
        w = self.loss_dmols.loss_weight
        return {k: float(v) / w if w else float(v) for k, v in out.items()}

    def reconstruction_output(self, inputs: Tensor,
                              texts: Sequence[str]) -> Tuple[Tensor, Tensor, Tensor]:
        """Erase ``texts`` (every sample; the first run for ``'one_run'``) and reconstruct
        (diagnostics, tests).

        Returns:
            tuple[Tensor, Tensor, Tensor]: R's output (B, L, C_t) or (B, L, V), the original
            ids (B, L) and the erase mask (B, L) bool.
        """
        tokens, erase = self.tokenize_with_entities(texts)
        _, rec = self._dmols_features(inputs, tokens, erase)
        out = self.loss_dmols.reconstruct(rec['query'][0], rec['query'][1], rec['memory'],
                                          self._word_embeddings())
        return out, tokens['input_ids'], erase

    # ---------------------------------------------------------------- loss
    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Segmentation losses of the heads (on the updated words) plus ``loss_rec``.

        Args:
            inputs (Tensor): (B, 3, H, W).
            data_samples (list[SegDataSample]): with ``gt_sem_seg`` and ``text`` metainfo.
        """
        if not self.with_dmols:
            text = self.text_encoder(texts_from_metas([s.metainfo for s in data_samples]))
            x, text = self.extract_feat_and_text(inputs, text)
            return self._heads_loss(x, data_samples, text)
        losses, loss_rec = self.dmols_forward(inputs, data_samples)
        losses[self.loss_dmols.loss_name] = loss_rec
        return losses
