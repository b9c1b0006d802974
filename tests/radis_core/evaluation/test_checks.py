"""Every IFEval-style check passes a reply that follows its instruction and fails one that does not."""

import pytest
from pydantic import ValidationError

from radis_core.evaluation.checks import CHECK_TYPES, count_words, evaluate_checks, parse_check

# (check spec, reply that follows it, reply that breaks it)
CASES = [
    ({"type": "lowercase"}, "the sea is calm today.", "The sea is calm today."),
    ({"type": "lowercase"}, "waves: 3 per minute", "1234 ..."),  # no letters at all is not "lowercase"
    ({"type": "uppercase"}, "MIND THE WET FLOOR!", "MIND THE wet FLOOR!"),
    ({"type": "max_words", "n": 5}, "One two three four five.", "One two three four five six."),
    ({"type": "min_words", "n": 4}, "Gardening is very calming.", "Gardening calms."),
    ({"type": "exact_bullets", "n": 3}, "Benefits:\n* sleep\n* mood\n- strength", "* sleep\n* mood"),
    ({"type": "exact_bullets", "n": 2}, "* one\n* two\n**bold note**\n---", "* one\n* two\n* three"),
    ({"type": "contains_keyword", "words": ["basket", "sunshine"]}, "Bring the Basket, enjoy the sunshine!", "Bring the basket."),
    ({"type": "contains_keyword", "words": ["cat"]}, "A cat sleeps.", "A category of things."),
    ({"type": "forbidden_words", "words": ["rain", "wet"]}, "A rainy, stormy evening.", "Cold rain fell."),
    ({"type": "forbidden_words", "words": ["wet"]}, "Dry as a bone.", "Everything was WET."),
    (
        {"type": "ends_with", "phrase": "Is there anything else I can help with?"},
        "Good luck! is there anything else I can help with?  \n",
        "Is there anything else I can help with? Bye.",
    ),
    ({"type": "starts_with", "phrase": "Certainly"}, "  certainly! A rainbow is light.", "Sure, certainly."),
    ({"type": "no_commas"}, "Pedals turn the chain. The wheel turns.", "Pedals, chain and wheel."),
    ({"type": "no_commas"}, "No commas here.", "全角\uff0c逗号"),
    ({"type": "json_format"}, '{"name": "France", "capital": "Paris"}', "name: France"),
    ({"type": "json_format"}, '```json\n{"colors": ["red", "blue", "green"]}\n```', '```json\n{"colors": [red]}\n```'),
    ({"type": "numbered_list", "n": 4}, "1. Boil\n2. Pour\n3) Steep\n4. Drink", "1. Boil\n2. Pour\n3. Drink"),
    ({"type": "quotation"}, '"Friends make the road shorter."', 'Friends make the road "shorter."'),
    ({"type": "quotation"}, "\u201cFriends make the road shorter.\u201d", '"'),
    ({"type": "paragraphs", "n": 2}, "Bread is old.\n\nIt spread everywhere.\n", "Bread is old.\nIt spread everywhere."),
    ({"type": "paragraphs", "n": 3}, "A\n\nB\n  \nC", "A\n\nB\n\nC\n\nD"),
    ({"type": "title"}, "<<The Silver Moon>>\nThe moon glows.", "The Silver Moon\nThe moon glows. <<  >>"),
]


@pytest.mark.parametrize(("spec", "good", "bad"), CASES, ids=[f"{c[0]['type']}-{i}" for i, c in enumerate(CASES)])
def test_check_passes_good_and_fails_bad(spec, good, bad):
    check = parse_check(spec)
    assert check.passes(good) is True
    assert check.passes(bad) is False


def test_every_check_type_has_cases():
    assert {spec["type"] for spec, _, _ in CASES} == set(CHECK_TYPES)


def test_count_words_follows_ifeval():
    assert count_words("Don't stop -- now!") == 4  # \w+ runs: Don, t, stop, now


def test_evaluate_checks_reports_each_check_in_order():
    results = evaluate_checks("a short lowercase reply", [{"type": "lowercase"}, {"type": "max_words", "n": 2}])
    assert results == [{"type": "lowercase", "passed": True}, {"type": "max_words", "passed": False}]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"type": "max_words"}, "n"),
        ({"type": "max_words", "n": 0}, "n"),
        ({"type": "contains_keyword", "words": []}, "words"),
        ({"type": "ends_with", "phrase": "  "}, "phrase"),
        ({"type": "lowercase", "n": 3}, "n"),
    ],
)
def test_bad_check_spec_names_the_field(spec, field):
    with pytest.raises(ValidationError) as info:
        parse_check(spec)
    assert any(field in err["loc"] for err in info.value.errors())


def test_unknown_check_type_is_rejected():
    with pytest.raises(ValidationError, match="no_such_check"):
        parse_check({"type": "no_such_check"})
