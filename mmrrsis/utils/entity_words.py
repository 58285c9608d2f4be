# Copyright (c) mmrrsis contributors. All rights reserved.
"""Entity words of referring expressions, for BTDNet's D-MOLS erasure (offline, rule-based).

An *entity word* names the object: a category of RRSIS-D or RefSegRS ("storage tank",
"vehicle", ...) or an object noun of :data:`ENTITY_NOUNS`, minus the position nouns of
:data:`NON_ENTITY_WORDS`. Matching is whole-word, case-insensitive, with an optional plural
``s``/``es``; multi-word names are matched before their parts ("storage tank" is one entity of
two words); every occurrence is found (a repeated word is erased everywhere). No tagger
(NLTK/spaCy would download data at run time): deterministic and offline.

Word pieces are aligned to the words through the fast tokenizer's ``offset_mapping``.
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple

from .text import (REFSEGRS_CATEGORIES, RRSISD_CATEGORIES, SYNTH_CATEGORY_WORDS,
                   spans_to_token_mask)

#: Object nouns of aerial/remote-sensing expressions (the rule lexicon besides categories).
ENTITY_NOUNS: Tuple[str, ...] = (
    'plane', 'aircraft', 'jet', 'boat', 'vessel', 'car', 'cars', 'bus', 'truck', 'van',
    'trailer', 'tank', 'tower', 'house', 'roof', 'building', 'warehouse', 'factory', 'road',
    'street', 'highway', 'lane', 'parking lot', 'lot', 'court', 'field', 'track', 'pool',
    'pond', 'lake', 'river', 'water', 'tree', 'forest', 'grass', 'vegetation', 'playground',
    'station', 'terminal', 'runway', 'dock', 'pier', 'container', 'crane', 'turbine',
    'roundabout', 'intersection', 'crossroad', 'bikeway', 'sidewalk', 'marking')

#: Nouns that name a place in the image, not the object: never erased.
NON_ENTITY_WORDS: Tuple[str, ...] = (
    'left', 'right', 'top', 'bottom', 'middle', 'center', 'centre', 'side', 'corner', 'part',
    'image', 'picture', 'area', 'edge', 'region')

ENTITY_SOURCES = ('category+nouns', 'category')


def entity_lexicon(source: str = 'category+nouns',
                   extra: Sequence[str] = ()) -> Tuple[str, ...]:
    """The entity names for ``source``.

    Args:
        source (str): ``'category'`` (RRSIS-D, RefSegRS and synthetic categories) or
            ``'category+nouns'`` (plus :data:`ENTITY_NOUNS`). Defaults to
            ``'category+nouns'``.
        extra (Sequence[str]): More names. Defaults to ().

    Returns:
        tuple[str]: Lower-case names (single or multi-word), without position nouns.
    """
    if source not in ENTITY_SOURCES:
        raise ValueError(f'entity source must be one of {ENTITY_SOURCES}, got {source!r}')
    names = list(RRSISD_CATEGORIES.values()) + list(REFSEGRS_CATEGORIES) + [
        w for ws in SYNTH_CATEGORY_WORDS.values() for w in ws]
    if source == 'category+nouns':
        names += list(ENTITY_NOUNS)
    names += list(extra)
    blocked = set(NON_ENTITY_WORDS)
    return tuple(sorted({n.lower() for n in names if n.lower() not in blocked}))


_LEXICON_RES: Dict[Tuple[str, ...], 're.Pattern'] = {}


def _lexicon_regex(names: Tuple[str, ...]) -> 're.Pattern':
    alts = sorted(names, key=len, reverse=True)  # longest first: "storage tank" before "tank"
    parts = [r'\s+'.join(re.escape(w) for w in n.split()) + r'(?:es|s)?' for n in alts]
    return re.compile(r'\b(?:' + '|'.join(parts) + r')\b', re.IGNORECASE)


def find_entity_spans(text: str, lexicon: Optional[Sequence[str]] = None) -> List[Tuple[int, int]]:
    """Character spans ``[start, end)`` of every entity mention in ``text``.

    Args:
        text (str): The expression.
        lexicon (Sequence[str], optional): Entity names. Defaults to :func:`entity_lexicon`.

    Returns:
        list[tuple[int, int]]: Non-overlapping spans in order of appearance; empty when the
        expression names no entity (D-MOLS then erases nothing in it).
    """
    key = tuple(lexicon) if lexicon is not None else entity_lexicon()
    if not key:
        return []
    if key not in _LEXICON_RES:
        _LEXICON_RES[key] = _lexicon_regex(key)
    return [m.span() for m in _LEXICON_RES[key].finditer(text)]


def entity_token_mask(offsets: Sequence[Tuple[int, int]],
                      spans: Sequence[Tuple[int, int]]) -> List[int]:
    """0/1 per token: 1 where the token's characters overlap an entity span (every word piece
    of an entity word; special and padding tokens, offsets ``(0, 0)``, never).

    Same rule as FIANet's masks: :func:`mmrrsis.utils.text.spans_to_token_mask`.
    """
    return spans_to_token_mask(offsets, spans)


ERASE_POLICIES = ('all_entities', 'one_run')


def entity_runs(text: str, spans: Sequence[Tuple[int, int]]) -> List[List[Tuple[int, int]]]:
    """Group entity spans into runs of adjacent words (only whitespace or a hyphen between
    them), e.g. "the car park" -> one run of two entity words.

    Args:
        text (str): The expression.
        spans (Sequence[tuple[int, int]]): Entity spans in order (:func:`find_entity_spans`).

    Returns:
        list[list[tuple[int, int]]]: The runs, in order of appearance.
    """
    runs: List[List[Tuple[int, int]]] = []
    for span in spans:
        if runs and re.fullmatch(r'[\s-]*', text[runs[-1][-1][1]:span[0]]):
            runs[-1].append(span)
        else:
            runs.append([span])
    return runs


def choose_erase_spans(text: str, spans: Sequence[Tuple[int, int]], policy: str,
                       u: float) -> List[Tuple[int, int]]:
    """The spans to erase under an erasure policy.

    Args:
        text (str): The expression.
        spans (Sequence[tuple[int, int]]): Its entity spans.
        policy (str): ``'all_entities'`` (every span) or ``'one_run'`` (one run of adjacent
            entity words, chosen by ``u``; DMMI's erasure of one run of adjacent nouns).
        u (float): A uniform number in [0, 1) choosing the run (drawn by the caller for every
            sample, so that the random stream does not depend on the texts).
    """
    if policy not in ERASE_POLICIES:
        raise ValueError(f'erase policy must be one of {ERASE_POLICIES}, got {policy!r}')
    if policy == 'all_entities' or not spans:
        return list(spans)
    runs = entity_runs(text, spans)
    return runs[min(int(u * len(runs)), len(runs) - 1)]
