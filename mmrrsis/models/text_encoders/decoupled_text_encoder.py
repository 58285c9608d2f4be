# Copyright (c) mmrrsis contributors. All rights reserved.
"""FIANet's text decoupling: the context, ground-object and spatial-position texts.

All three texts are the same token ids under different attention masks (FIANet
``data/*_refer_bert.py``). The masks are built here from the raw expression, because the
design contract tokenises inside the model.
"""
from typing import List, NamedTuple, Sequence, Tuple, Union

import torch
from mmseg.registry import MODELS
from torch import Tensor

from mmrrsis.utils.text import (
    REFSEGRS_CATEGORIES,
    RISBENCH_CATEGORY_WORDS,
    RRSISD_CATEGORIES,
    SYNTH_CATEGORY_WORDS,
    find_category_spans,
    find_reference_pp_spans,
    find_spatial_spans,
    spans_to_token_mask,
)

from .hf_text_encoder import HFTextEncoder

#: Named category vocabularies for ``object_categories``.
CATEGORY_VOCABULARIES = {
    'rrsisd': tuple(RRSISD_CATEGORIES.values()),
    'refsegrs': REFSEGRS_CATEGORIES,
    'synth': tuple(w for ws in SYNTH_CATEGORY_WORDS.values() for w in ws),  # with synonyms
    'risbench': tuple(w for ws in RISBENCH_CATEGORY_WORDS.values() for w in ws),
}


POSITION_RULES = ('lexicon', 'reference')


class DecoupledText(NamedTuple):
    """Output of :class:`DecoupledTextEncoder`; items 0 and 1 are the ordinary
    ``(text_feats, text_mask)`` pair, so components that only take the context work unchanged.

    All features (B, L, C), all masks (B, L) int64 with 1 for the tokens of that text.
    """
    text_feats: Tensor
    text_mask: Tensor
    object_feats: Tensor
    object_mask: Tensor
    position_feats: Tensor
    position_mask: Tensor


@MODELS.register_module()
class DecoupledTextEncoder(HFTextEncoder):
    """Text encoder with FIANet's decoupling into ground-object and spatial-position texts.

    For every expression three token masks over the *same* tokens are built:

    - context ``m_c``: the attention mask (all real tokens);
    - ground object ``m_g``: the word pieces of every category mention of
      ``object_categories`` (whole words, optional plural, multi-word names such as "storage
      tank"); **no mention -> all zeros** (FIANet's fallback; the object branch then gives 0);
    - spatial position ``m_s``: the word pieces of every spatial phrase; **no phrase -> m_s =
      m_c** (FIANet's fallback). ``position_rule='reference'``: FIANet's prepositional chunks
      (:func:`mmrrsis.utils.text.find_reference_pp_spans`, the official NLTK grammar with
      lexicon tags, offline), so relational phrases ("along the road", "by buildings") count;
      ``'lexicon'``: only phrases with a position word
      (:func:`mmrrsis.utils.text.find_spatial_spans`: "on the left side", "in the upper left").

    Alignment: phrases are found as character spans and mapped to word pieces through the fast
    tokenizer's ``offset_mapping``, so every piece of a split word is marked and the ``[CLS]``,
    ``[SEP]`` and padding tokens never are. (FIANet uses NLTK word indices + 1 as WordPiece
    positions, which shifts the masks whenever a word splits into several pieces or punctuation
    tokenises differently; that shortcut is not reproduced.)

    Encoding: the encoder runs **once** on a (3B, L) batch, the ids repeated three times with
    ``[m_c; m_g; m_s]`` as attention masks, which equals FIANet's three BERT passes
    ``BERT(ids, m)``. Rows with an empty ``m_g`` are encoded with ``m_c`` instead (an all-masked
    attention row is ill-defined); their features are never seen, since ``object_mask`` stays
    all zero and every consumer masks with it.

    With a fixed encoder (``frozen=True``) ``cache_size > 0`` keeps the six outputs of each
    expression string (as :class:`HFTextEncoder`'s feature cache), so an expression is encoded
    once per training run.

    Args:
        object_categories (str | Sequence[str]): ``'rrsisd'``, ``'refsegrs'``, ``'synth'``,
            ``'risbench'`` or
            a list of category names. Defaults to ``'rrsisd'``.
        position_rule (str): ``'lexicon'`` or ``'reference'``. Defaults to ``'lexicon'``
            (the FIANet configs choose ``'reference'``, see ``configs/fianet/README.md``).
        **kwargs: Arguments of :class:`HFTextEncoder` (``name_or_path``, ``max_tokens`` ...).
    """

    def __init__(self, object_categories: Union[str, Sequence[str]] = 'rrsisd',
                 position_rule: str = 'lexicon', **kwargs) -> None:
        super().__init__(**kwargs)
        if position_rule not in POSITION_RULES:
            raise ValueError(f'position_rule must be one of {POSITION_RULES}, got '
                             f'{position_rule!r}')
        self.position_rule = position_rule
        if isinstance(object_categories, str):
            if object_categories not in CATEGORY_VOCABULARIES:
                raise ValueError(f'unknown object_categories {object_categories!r}; expected '
                                 f'one of {sorted(CATEGORY_VOCABULARIES)} or a list of names')
            object_categories = CATEGORY_VOCABULARIES[object_categories]
        self.object_categories = tuple(object_categories)

    def decouple(self, texts: Sequence[str]) -> dict:
        """Tokenise and build the three masks.

        Args:
            texts (Sequence[str]): B expressions.

        Returns:
            dict[str, Tensor]: ``input_ids``, ``attention_mask`` (= ``m_c``),
            ``object_mask`` (``m_g``), ``position_mask`` (``m_s``) and ``token_type_ids``
            where the model uses them; each (B, L) int64.
        """
        tokens = self.tokenize(texts)
        if not getattr(self.tokenizer, 'is_fast', False):
            raise TypeError('DecoupledTextEncoder needs a fast tokenizer (offset_mapping); '
                            f'{type(self.tokenizer).__name__} is not one')
        offsets = self.tokenizer(
            list(texts), padding='max_length', max_length=self.max_tokens, truncation=True,
            return_offsets_mapping=True)['offset_mapping']
        object_rows: List[List[int]] = []
        position_rows: List[List[int]] = []
        context = tokens['attention_mask'].tolist()
        for text, offs, ctx in zip(texts, offsets, context):
            object_rows.append(
                spans_to_token_mask(offs, find_category_spans(text, self.object_categories)))
            find = find_reference_pp_spans if self.position_rule == 'reference' else \
                find_spatial_spans
            position = spans_to_token_mask(offs, find(text))
            position_rows.append(position if any(position) else ctx)
        device = tokens['input_ids'].device
        tokens['object_mask'] = torch.tensor(object_rows, dtype=torch.long, device=device)
        tokens['position_mask'] = torch.tensor(position_rows, dtype=torch.long, device=device)
        return tokens

    def forward(self, texts: Sequence[str]) -> DecoupledText:
        """Encode the context, ground-object and spatial-position texts in one encoder call.

        Args:
            texts (Sequence[str]): B expressions.

        Returns:
            DecoupledText: ``(text_feats, text_mask, object_feats, object_mask,
            position_feats, position_mask)``, features (B, L, C), masks (B, L).
        """
        if self.cache_size:
            return DecoupledText(*self._forward_cached(texts, self._encode_decoupled))
        return self._encode_decoupled(texts)

    def _encode_decoupled(self, texts: Sequence[str]) -> DecoupledText:
        tokens = self.decouple(texts)
        context, objects, position = (tokens['attention_mask'], tokens['object_mask'],
                                      tokens['position_mask'])
        has_object = objects.any(dim=1, keepdim=True)
        object_attention = torch.where(has_object, objects, context)
        B = context.shape[0]
        token_types = tokens.get('token_type_ids')
        feats = self.encode(
            tokens['input_ids'].repeat(3, 1),
            torch.cat([context, object_attention, position]),
            None if token_types is None else token_types.repeat(3, 1))  # (3B, L, C)
        feats_c, feats_g, feats_s = feats.split(B)
        return DecoupledText(feats_c, context, feats_g, objects, feats_s, position)


def decoupled_kwargs(text: Tuple[Tensor, ...]) -> dict:
    """The object / position keyword arguments of a :class:`DecoupledText`."""
    if not isinstance(text, DecoupledText):
        raise TypeError('this component needs the decoupled texts of FIANet: use '
                        "text_encoder=dict(type='DecoupledTextEncoder', ...)")
    return dict(object_feats=text.object_feats, object_mask=text.object_mask,
                position_feats=text.position_feats, position_mask=text.position_mask)
