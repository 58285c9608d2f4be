# Copyright (c) mmrrsis contributors. All rights reserved.
"""Text utilities shared by datasets, transforms, the metric and the models.

- Category vocabularies of RRSIS-D and RefSegRS in natural-language form.
- :func:`match_category`: whole-word category matching (first occurrence in the sentence wins).
- :func:`swap_spatial_words`: the simultaneous spatial-word rewrite used by flips.
"""
import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

#: RRSIS-D's 20 categories as words (FIANet's list), keyed by the ``instances.json`` names.
RRSISD_CATEGORIES: Dict[str, str] = {
    'Expressway-Service-area': 'expressway service area',
    'Expressway-toll-station': 'expressway toll station',
    'airplane': 'airplane',
    'airport': 'airport',
    'baseballfield': 'baseball field',
    'basketballcourt': 'basketball court',
    'bridge': 'bridge',
    'chimney': 'chimney',
    'dam': 'dam',
    'golffield': 'golf field',
    'groundtrackfield': 'ground track field',
    'harbor': 'harbor',
    'overpass': 'overpass',
    'ship': 'ship',
    'stadium': 'stadium',
    'storagetank': 'storage tank',
    'tenniscourt': 'tennis court',
    'trainstation': 'train station',
    'vehicle': 'vehicle',
    'windmill': 'windmill',
}

#: RefSegRS's 14 categories (no category field in the files; derived from the text).
REFSEGRS_CATEGORIES: Tuple[str, ...] = (
    'road', 'vehicle', 'car', 'van', 'building', 'truck', 'trailer', 'bus', 'road marking',
    'bikeway', 'sidewalk', 'tree', 'low vegetation', 'impervious surface')

#: Categories of the embedded synthetic set (``mmrrsis.datasets.synthetic``).
SYNTH_CATEGORIES: Tuple[str, ...] = ('road', 'vehicle', 'building', 'storage tank', 'tree',
                                     'field', 'pond')
#: The words the synthetic expressions use for each category. The target's noun always comes
#: before any other category noun (relations come last), so the first category word found in
#: an expression names the target's category (:func:`match_category`).
SYNTH_CATEGORY_WORDS: Dict[str, Tuple[str, ...]] = {
    'road': ('road', 'street'),
    'vehicle': ('vehicle', 'car', 'truck'),
    'building': ('building', 'house'),
    'storage tank': ('storage tank', 'oil tank', 'tank'),
    'tree': ('tree', ),
    'field': ('field', 'farmland'),
    'pond': ('pond', 'lake'),
}

#: RISBench's 26 classes (CroBIM; the names RSRefSeg2 lists) with the words an expression may
#: use for them (aliases in the spirit of DiCoR's look-up: plane = aircraft, vessel = ship ...).
RISBENCH_CATEGORY_WORDS: Dict[str, Tuple[str, ...]] = {
    'expressway service area': ('expressway service area', 'service area'),
    'expressway toll station': ('expressway toll station', 'toll station', 'toll gate'),
    'ground track field': ('ground track field', 'running track field', 'running track',
                           'track field'),
    'basketball court': ('basketball court', ),
    'container crane': ('container crane', 'crane'),
    'roundabout': ('roundabout', ),
    'windmill': ('windmill', 'wind turbine'),
    'overpass': ('overpass', ),
    'stadium': ('stadium', ),
    'bridge': ('bridge', ),
    'soccer ball field': ('soccer ball field', 'soccer field', 'football field'),
    'baseball diamond': ('baseball diamond', 'baseball field'),
    'train station': ('train station', 'railway station'),
    'golf field': ('golf field', 'golf course'),
    'airport': ('airport', ),
    'harbor': ('harbor', 'harbour', 'dock', 'pier'),
    'dam': ('dam', ),
    'ship': ('ship', 'vessel', 'boat'),
    'helipad': ('helipad', ),
    'vehicle': ('vehicle', 'car', 'truck', 'bus', 'van'),
    'chimney': ('chimney', 'cooling tower'),
    'airplane': ('airplane', 'plane', 'aircraft', 'aeroplane'),
    'helicopter': ('helicopter', ),
    'tennis court': ('tennis court', ),
    'storage tank': ('storage tank', 'oil tank', 'tank'),
    'swimming pool': ('swimming pool', 'pool'),
}

_HFLIP_PAIRS = (('left', 'right'), ('leftmost', 'rightmost'), ('west', 'east'),
                ('western', 'eastern'), ('westernmost', 'easternmost'))
_VFLIP_PAIRS = (('top', 'bottom'), ('upper', 'lower'), ('north', 'south'),
                ('northern', 'southern'), ('topmost', 'bottommost'),
                ('northernmost', 'southernmost'), ('above', 'below'), ('uppermost', 'lowermost'))


def _pair_map(pairs: Iterable[Tuple[str, str]]) -> Dict[str, str]:
    mapping = {}
    for a, b in pairs:
        mapping[a], mapping[b] = b, a
    return mapping


_SWAPS = {'horizontal': _pair_map(_HFLIP_PAIRS), 'vertical': _pair_map(_VFLIP_PAIRS)}
_SWAPS['diagonal'] = {**_SWAPS['horizontal'], **_SWAPS['vertical']}
_SWAP_RES = {
    k: re.compile(r'\b(' + '|'.join(sorted(v, key=len, reverse=True)) + r')\b', re.IGNORECASE)
    for k, v in _SWAPS.items()
}


def _keep_case(src: str, dst: str) -> str:
    if src.isupper() and len(src) > 1:
        return dst.upper()
    if src[0].isupper():
        return dst[0].upper() + dst[1:]
    return dst


def swap_spatial_words(text: str, direction: str) -> str:
    """Rewrite spatial words so that ``text`` describes the flipped image.

    All occurrences are replaced at once (so "left of the right car" becomes "right of the left
    car"), only whole words are touched ("bright", "leftover", "upright" stay) and the case of
    the first letter (or an all-caps word) is kept.

    Args:
        text (str): The expression.
        direction (str): ``'horizontal'`` (left <-> right, west <-> east), ``'vertical'``
            (top/upper/north/above <-> bottom/lower/south/below) or ``'diagonal'`` (both).
    """
    if direction not in _SWAPS:
        raise ValueError(f'Unknown flip direction {direction!r}; expected one of '
                         f'{sorted(_SWAPS)}')
    mapping = _SWAPS[direction]
    return _SWAP_RES[direction].sub(
        lambda m: _keep_case(m.group(0), mapping[m.group(0).lower()]), text)


def _category_regex(names: Sequence[str]) -> 're.Pattern':
    # Longest names first so that "road marking" wins over "road" at the same position.
    alts = sorted(names, key=len, reverse=True)
    parts = [r'\s+'.join(re.escape(w) for w in n.split()) + r's?' for n in alts]
    return re.compile(r'\b(' + '|'.join(parts) + r')\b', re.IGNORECASE)


_CATEGORY_RES: Dict[tuple, 're.Pattern'] = {}


def match_category(text: str,
                   categories: Union[Sequence[str], Mapping[str, Sequence[str]]]) -> Optional[str]:
    """Return the category named first in ``text`` (whole words, optional plural 's').

    ``categories`` are natural-language names (multi-word names allowed), or a mapping from a
    name to the words that stand for it (e.g. ``{'pond': ('pond', 'lake')}``). At one position
    the longest word wins ("road marking" before "road"). Returns ``None`` if nothing matches.
    """
    if isinstance(categories, Mapping):
        alias_of = {' '.join(w.lower().split()): name
                    for name, ws in categories.items() for w in ws}
    else:
        alias_of = {' '.join(name.lower().split()): name for name in categories}
    key = tuple(sorted(alias_of.items()))
    if key not in _CATEGORY_RES:
        _CATEGORY_RES[key] = _category_regex(tuple(alias_of))
    m = _CATEGORY_RES[key].search(text)
    if m is None:
        return None
    found = ' '.join(m.group(0).lower().split())
    if found in alias_of:
        return alias_of[found]
    return alias_of.get(found[:-1]) if found.endswith('s') else None


def normalize_category(name: Optional[str]) -> Optional[str]:
    """Map a dataset category name (e.g. ``'storagetank'``) to its words (``'storage tank'``)."""
    if name is None:
        return None
    return RRSISD_CATEGORIES.get(name, name)


def words(text: str) -> List[str]:
    """Lower-case word tokens of ``text`` (letters, digits and apostrophes)."""
    return re.findall(r"[a-z0-9']+", text.lower())


# ----------------------------------------------------------------------------------------------
# FIANet text decoupling: ground-object and spatial-position phrases (character spans).
# ----------------------------------------------------------------------------------------------

#: Prepositions that open a spatial-position phrase (FIANet's NLTK ``PP`` chunks start with an
#: ``IN`` tag). Multi-word ones are matched before their first word.
SPATIAL_PREPOSITIONS: Tuple[str, ...] = (
    'next to', 'close to', 'adjacent to', 'in', 'on', 'at', 'near', 'to', 'by', 'beside',
    'besides', 'along', 'alongside', 'above', 'below', 'under', 'beneath', 'over', 'behind',
    'between', 'among', 'around', 'across',
    'from', 'toward', 'towards', 'within', 'inside', 'outside', 'nearby')

#: Position words (nouns and adjectives) that make a prepositional phrase spatial.
POSITION_WORDS: Tuple[str, ...] = (
    'left', 'right', 'top', 'bottom', 'upper', 'lower', 'middle', 'center', 'centre', 'central',
    'side', 'sides', 'corner', 'corners', 'edge', 'edges', 'part', 'half', 'end', 'border',
    'boundary', 'front', 'back', 'north', 'south', 'east', 'west', 'northern', 'southern',
    'eastern', 'western', 'northeast', 'northwest', 'southeast', 'southwest', 'leftmost',
    'rightmost', 'topmost', 'bottommost', 'uppermost', 'lowermost', 'far', 'image', 'picture',
    'scene', 'area', 'region', 'position', 'location')

_DETERMINERS = ('the', 'a', 'an', 'this', 'that', 'its', 'their')


def _build_spatial_regex() -> 're.Pattern':
    preps = sorted(SPATIAL_PREPOSITIONS, key=len, reverse=True)
    prep = '|'.join(r'\s+'.join(re.escape(w) for w in p.split()) for p in preps)
    det = '|'.join(_DETERMINERS)
    pos = '|'.join(sorted(POSITION_WORDS, key=len, reverse=True))
    # preposition, optional determiner, 1-3 position words (hyphen or space separated)
    return re.compile(
        rf'\b(?:{prep})\s+(?:(?:{det})\s+)?(?:{pos})(?:[\s-]+(?:{pos})){{0,2}}\b', re.IGNORECASE)


_SPATIAL_RE = _build_spatial_regex()


def find_category_spans(text: str, categories: Sequence[str]) -> List[Tuple[int, int]]:
    """Character spans ``[start, end)`` of every category mention in ``text``.

    Whole words only, optional plural 's', multi-word names allowed ("storage tank"); at one
    position the longest name wins ("road marking" before "road"). FIANet's ground-object text.

    Args:
        text (str): The expression.
        categories (Sequence[str]): Natural-language category names.

    Returns:
        list[tuple[int, int]]: Non-overlapping spans in order of appearance (may be empty).
    """
    key = tuple(categories)
    if not key:
        return []
    if key not in _CATEGORY_RES:
        _CATEGORY_RES[key] = _category_regex(key)
    return [m.span() for m in _CATEGORY_RES[key].finditer(text)]


def find_spatial_spans(text: str) -> List[Tuple[int, int]]:
    """Character spans ``[start, end)`` of the spatial-position phrases in ``text``.

    A phrase is a preposition of :data:`SPATIAL_PREPOSITIONS`, an optional determiner and one
    to three :data:`POSITION_WORDS` ("on the left side", "in the upper left", "at the bottom
    left", "next to the center"). This lexicon replaces FIANet's NLTK POS-tag chunker
    (``<IN><DT>?<JJ.*>?<NN>`` and friends), so it runs offline with no tagger data. A phrase
    ends with its last position word, so "of the image" in "in the upper left of the image" is
    not marked (the reference drops chunks containing "of"). Unlike the reference, phrases
    without a position word ("near the road") are not spatial here.

    Returns:
        list[tuple[int, int]]: Non-overlapping spans in order of appearance (may be empty).
    """
    return [m.span() for m in _SPATIAL_RE.finditer(text)]


#: Words NLTK tags ``IN`` (prepositions / subordinating conjunctions) in referring expressions:
#: the heads of FIANet's reference chunks. "to" (tagged ``TO``) and "next" (``JJ``) are not.
REFERENCE_PREPOSITIONS: Tuple[str, ...] = (
    'in', 'on', 'at', 'near', 'by', 'beside', 'besides', 'along', 'alongside', 'above', 'below',
    'under', 'beneath', 'over', 'behind', 'between', 'among', 'around', 'across', 'from',
    'within', 'inside', 'outside', 'into', 'onto', 'through', 'with', 'of', 'for', 'upon',
    'toward', 'towards', 'against', 'past', 'off', 'amid', 'like', 'beyond', 'throughout')
_REFERENCE_DETERMINERS = ('the', 'a', 'an', 'this', 'that', 'these', 'those', 'each', 'every',
                          'some', 'all', 'another', 'any', 'both', 'no')
#: Words NLTK tags as adjectives (``JJ*``) before a noun in these expressions.
REFERENCE_ADJECTIVES: Tuple[str, ...] = (
    'upper', 'lower', 'left', 'right', 'top', 'bottom', 'middle', 'central', 'small', 'large',
    'big', 'little', 'long', 'short', 'wide', 'narrow', 'other', 'same', 'whole', 'entire',
    'first', 'second', 'third', 'last', 'leftmost', 'rightmost', 'topmost', 'bottommost',
    'northern', 'southern', 'eastern', 'western', 'red', 'white', 'black', 'blue', 'green',
    'grey', 'gray', 'yellow', 'brown', 'dark', 'light', 'open', 'empty', 'main',
    'round', 'square', 'rectangular', 'circular', 'residential', 'industrial', 'nearby',
    'adjacent', 'several', 'many', 'two', 'three', 'four', 'larger', 'smaller', 'largest',
    'smallest', 'biggest')
_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:['-][A-Za-z0-9]+)*")


def find_reference_pp_spans(text: str) -> List[Tuple[int, int]]:
    """Character spans of FIANet's prepositional chunks (its ``position_rule='reference'``).

    FIANet's loaders POS-tag the expression with NLTK and chunk ``PP: {<IN><DT>?<JJ.*>?<NN>}
    {<IN><DT>?<JJ.*>?<JJ>} {<IN><DT>?<JJ.*><VBD>}``, then drop every chunk that contains the
    substring "of". Offline (no tagger data) the tags come from lexicons: a preposition of
    :data:`REFERENCE_PREPOSITIONS`, an optional determiner, an optional adjective of
    :data:`REFERENCE_ADJECTIVES` followed by the head word, or the head word alone (any word
    that is not a preposition or determiner). So "along the road", "in the parking area" ->
    "in the parking" (the chunk ends at its first noun, as NLTK tags "parking" NN),
    "surrounded by buildings" -> "by buildings". Lexicon tags differ from NLTK's where a word's
    tag depends on context. Every occurrence is marked where it occurs (the reference marks the
    first occurrence of the chunk's first word).

    Returns:
        list[tuple[int, int]]: Spans of the chunks' words, in order.
    """
    words = [(m.group(0).lower(), m.start(), m.end()) for m in _WORD_RE.finditer(text)]
    spans: List[Tuple[int, int]] = []
    i = 0
    while i < len(words):
        if words[i][0] not in REFERENCE_PREPOSITIONS:
            i += 1
            continue
        j = i + 1
        if j < len(words) and words[j][0] in _REFERENCE_DETERMINERS:
            j += 1

        def content(k: int) -> bool:
            return k < len(words) and words[k][0] not in REFERENCE_PREPOSITIONS and \
                words[k][0] not in _REFERENCE_DETERMINERS

        if not content(j):
            i += 1
            continue
        adjective = words[j][0] in REFERENCE_ADJECTIVES or '-' in words[j][0]  # light-duty
        end = j + 1 if adjective and content(j + 1) else j
        chunk = words[i:end + 1]
        if not any('of' in w for w, _, _ in chunk):
            spans.extend((s, e) for _, s, e in chunk)
        i = end + 1
    return spans


def spans_to_token_mask(offsets: Sequence[Tuple[int, int]],
                        spans: Sequence[Tuple[int, int]]) -> List[int]:
    """Mark the tokens whose character offsets overlap any of ``spans``.

    Args:
        offsets (Sequence[tuple[int, int]]): Per token ``(start, end)`` character offsets as
            a fast tokenizer's ``offset_mapping`` gives them; special and padding tokens have
            ``(0, 0)`` and are never marked.
        spans (Sequence[tuple[int, int]]): Character spans of the phrases.

    Returns:
        list[int]: 0/1 per token. Every word piece of a marked word is marked.
    """
    mask = []
    for start, end in offsets:
        hit = end > start and any(start < s_end and s_start < end for s_start, s_end in spans)
        mask.append(int(hit))
    return mask
