# Copyright (c) mmrrsis contributors. All rights reserved.
import pytest

from mmrrsis.utils.entity_words import (entity_lexicon, entity_token_mask,
                                        find_entity_spans)


def _found(text, lexicon=None):
    return [text[a:b] for a, b in find_entity_spans(text, lexicon)]


@pytest.mark.parametrize('text,expected', [
    ('the storage tank on the left', ['storage tank']),  # multi-word category, one entity
    ('Two Storage Tanks near the red car and another car', ['Storage Tanks', 'car', 'car']),
    ('road marking next to the road', ['road marking', 'road']),  # longest name first
    ('the white vehicles at the top right corner', ['vehicles']),  # position nouns stay
    ('the one in the middle of the image', []),  # no entity: nothing is erased
    ('ground track field', ['ground track field']),
    ('expressway service area near the bridge', ['expressway service area', 'bridge']),
    ('a scarf', []),  # whole words only ('car' inside another word is not an entity)
])
def test_find_entity_spans(text, expected):
    assert _found(text) == expected


def test_lexicon_sources():
    cats = entity_lexicon('category')
    full = entity_lexicon('category+nouns')
    assert 'storage tank' in cats and 'plane' not in cats and 'plane' in full
    assert not {'left', 'middle', 'area', 'image', 'corner'} & set(full)
    assert _found('the plane', cats) == []
    assert 'windmill' in entity_lexicon('category', extra=('Windmill', ))
    with pytest.raises(ValueError):
        entity_lexicon('spacy')


def test_token_alignment_through_offsets(tmp_path):
    from transformers import AutoTokenizer

    from mmrrsis.testing import make_tiny_bert
    tok = AutoTokenizer.from_pretrained(make_tiny_bert(str(tmp_path), weights=False))
    text = 'the storage tank near the storagetank and the car'
    enc = tok(text, padding='max_length', max_length=16, return_offsets_mapping=True)
    mask = entity_token_mask(enc['offset_mapping'], find_entity_spans(text))
    pieces = tok.convert_ids_to_tokens(enc['input_ids'])
    marked = [p for p, m in zip(pieces, mask) if m]
    # every piece of 'storage tank', of the unknown word 'storagetank' (not an entity: not a
    # whole-word match) nothing, the car, never [CLS]/[SEP]/[PAD]
    assert marked == ['storage', 'tank', 'car']
    assert len(mask) == 16 and mask[0] == 0


def test_runs_of_adjacent_entity_words_and_the_one_run_policy():
    from mmrrsis.utils.entity_words import (choose_erase_spans, entity_runs,
                                            find_entity_spans)
    text = 'the car park storage tank next to the grey building'
    spans = find_entity_spans(text, ('car', 'park', 'storage tank', 'building'))
    runs = entity_runs(text, spans)
    assert [[text[a:b] for a, b in run] for run in runs] == [
        ['car', 'park', 'storage tank'], ['building']]
    assert entity_runs('a light-duty truck', [(2, 7), (8, 12)]) == [[(2, 7), (8, 12)]]
    assert choose_erase_spans(text, spans, 'all_entities', 0.9) == spans
    assert choose_erase_spans(text, spans, 'one_run', 0.0) == runs[0]
    assert choose_erase_spans(text, spans, 'one_run', 0.99) == runs[1]
    assert choose_erase_spans(text, [], 'one_run', 0.5) == []
    with pytest.raises(ValueError, match='erase policy'):
        choose_erase_spans(text, spans, 'nouns', 0.0)
