# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest

from mmrrsis.utils.text import (REFSEGRS_CATEGORIES, RRSISD_CATEGORIES, find_category_spans,
                                find_spatial_spans, spans_to_token_mask)

RRSISD = tuple(RRSISD_CATEGORIES.values())


def _phrases(text, spans):
    return [text[a:b] for a, b in spans]


@pytest.mark.parametrize('text,expected', [
    ('the storage tank on the left side', ['on the left side']),
    ('a car in the upper left of the image', ['in the upper left']),
    ('the vehicle at the bottom left', ['at the bottom left']),
    ('cars near the top-right corner', ['near the top-right corner']),
    ('the ship in the middle and the one on the right', ['in the middle', 'on the right']),
    ('The Bridge At The Top', ['At The Top']),
    ('the car on top of the building', ['on top']),  # phrases end at a position word
    ('the red car', []),
    ('the building near the road', []),  # no position word (the reference would mark it)
    ('the building in the picture', ['in the picture']),
])
def test_spatial_phrases(text, expected):
    assert _phrases(text, find_spatial_spans(text)) == expected


def test_category_mentions_whole_words_plural_and_multi_word():
    text = 'two storage tanks next to the tennis court, not the tank farm or scars'
    assert _phrases(text, find_category_spans(text, RRSISD)) == [
        'storage tanks', 'tennis court']
    text = 'the white car on the road marking beside the road'
    assert _phrases(text, find_category_spans(text, REFSEGRS_CATEGORIES)) == [
        'car', 'road marking', 'road']
    assert find_category_spans('a big white building', RRSISD) == []
    assert find_category_spans('anything', ()) == []


def test_spans_to_token_mask_marks_every_piece_never_specials():
    # [CLS] the storage tank ##s [SEP] [PAD]
    offsets = [(0, 0), (0, 3), (4, 11), (12, 16), (16, 17), (0, 0), (0, 0)]
    assert spans_to_token_mask(offsets, [(4, 17)]) == [0, 0, 1, 1, 1, 0, 0]
    assert spans_to_token_mask(offsets, []) == [0] * 7


@pytest.mark.parametrize('text,expected', [
    ('car in the parking area', ['in', 'the', 'parking']),
    ('the vehicle on the left side of the road', ['on', 'the', 'left', 'side']),
    ('road along the river', ['along', 'the', 'river']),
    ('building surrounded by trees', ['by', 'trees']),
    ('the storage tank in the upper left corner', ['in', 'the', 'upper', 'left']),
    ('a ship at the bottom of the image', ['at', 'the', 'bottom']),  # "of" chunks dropped
    ('the white car next to the red truck', []),  # "to" is TO, "next" JJ: no chunk
    ('the leftmost windmill', []),
    ('trees alongside the light-duty road', ['alongside', 'the', 'light-duty', 'road']),
    ('the tank near the tank near the road', ['near', 'the', 'tank', 'near', 'the', 'road']),
])
def test_reference_prepositional_chunks(text, expected):
    from mmrrsis.utils.text import find_reference_pp_spans
    assert [text[s:e] for s, e in find_reference_pp_spans(text)] == expected
