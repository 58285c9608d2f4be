# Copyright (c) mmrrsis contributors. All rights reserved.
"""Text utilities shared by datasets, transforms, the metric and the models.

- Category vocabularies of RRSIS-D and RefSegRS in natural-language form.
- :func:`match_category`: whole-word category matching (first occurrence in the sentence wins).
- :func:`swap_spatial_words`: the simultaneous spatial-word rewrite used by flips.
"""
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

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


_CATEGORY_RES: Dict[Tuple[str, ...], 're.Pattern'] = {}


def match_category(text: str, categories: Sequence[str]) -> Optional[str]:
    """Return the category named first in ``text`` (whole words, optional plural 's').

    ``categories`` are natural-language names (multi-word names allowed). At one position the
    longest name wins ("road marking" before "road"). Returns ``None`` if nothing matches.
    """
    key = tuple(categories)
    if key not in _CATEGORY_RES:
        _CATEGORY_RES[key] = _category_regex(key)
    m = _CATEGORY_RES[key].search(text)
    if m is None:
        return None
    found = ' '.join(m.group(0).lower().split())
    for name in sorted(key, key=len, reverse=True):
        if found == name.lower() or found == name.lower() + 's':
            return name
    return None


def normalize_category(name: Optional[str]) -> Optional[str]:
    """Map a dataset category name (e.g. ``'storagetank'``) to its words (``'storage tank'``)."""
    if name is None:
        return None
    return RRSISD_CATEGORIES.get(name, name)


def words(text: str) -> List[str]:
    """Lower-case word tokens of ``text`` (letters, digits and apostrophes)."""
    return re.findall(r"[a-z0-9']+", text.lower())
