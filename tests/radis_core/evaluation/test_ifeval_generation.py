"""The IFEval-style generator: deterministic, every check type in every prefix, prompts that load and differ."""

import pytest

from radis_core.evaluation.checks import CHECK_TYPES, parse_check
from radis_core.evaluation.ifeval_generation import INSTRUCTIONS, SECOND, TOPICS, generate_ifeval
from radis_core.evaluation.probes import IfevalItem


def test_same_seed_same_items_other_seed_other_items():
    assert generate_ifeval(60, seed=3) == generate_ifeval(60, seed=3)
    assert generate_ifeval(60, seed=3) != generate_ifeval(60, seed=4)


def test_every_check_type_has_a_writer_and_compatible_seconds():
    assert list(INSTRUCTIONS) == list(CHECK_TYPES)
    assert set(SECOND) == set(CHECK_TYPES)
    for primary, seconds in SECOND.items():
        assert primary not in seconds and set(seconds) <= set(CHECK_TYPES)
    assert "uppercase" not in SECOND["lowercase"] and "min_words" not in SECOND["max_words"]


def test_each_block_of_the_list_covers_every_check_type():
    items = generate_ifeval()
    assert len(items) >= 300
    width = len(CHECK_TYPES)
    for start in range(0, len(items) - width + 1, width):
        assert {it["checks"][0]["type"] for it in items[start : start + width]} == set(CHECK_TYPES)


def test_items_validate_and_prompts_are_distinct():
    items = generate_ifeval()
    assert len({it["prompt"] for it in items}) == len(items)
    assert len({it["id"] for it in items}) == len(items)
    for item in items:
        IfevalItem.model_validate(item)
        assert 1 <= len(item["checks"]) <= 2
        assert item["topic"] in {t.phrase for t in TOPICS}
    assert sum(len(it["checks"]) == 2 for it in items) >= len(items) // 5


@pytest.mark.parametrize("check_type", CHECK_TYPES)
def test_the_instruction_states_its_parameters(check_type):
    import random

    text, spec = INSTRUCTIONS[check_type](random.Random(0), TOPICS[0])
    check = parse_check(spec)
    for value in spec.values():
        if isinstance(value, int):
            assert str(value) in text
        elif isinstance(value, list):
            assert all(f'"{w}"' in text for w in value)
        elif value != check.type:
            assert value in text


def test_a_compliant_reply_passes_and_an_ignoring_one_fails():
    item = next(it for it in generate_ifeval() if [c["type"] for c in it["checks"]] == ["no_commas"])
    assert all(parse_check(c).passes("Tea is warm and calm.") for c in item["checks"])
    assert not all(parse_check(c).passes("Tea is warm, calm, and kind.") for c in item["checks"])


def test_count_must_be_positive():
    with pytest.raises(ValueError, match="count must be at least 1"):
        generate_ifeval(0)
