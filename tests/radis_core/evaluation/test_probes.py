"""Built-in probe sets load from the package; user sets replace them; bad lines are named."""

import json

import pytest

from radis_core.evaluation.checks import CHECK_TYPES
from radis_core.evaluation.probes import PROBE_SCHEMAS, load_probes
from radis_core.evaluation.retention import normalize_number


@pytest.mark.parametrize("name", list(PROBE_SCHEMAS))
def test_builtin_sets_have_at_least_20_valid_items(name):
    items = load_probes(name)
    assert len(items) >= 20
    assert len({it["id"] for it in items}) == len(items)


@pytest.mark.parametrize(
    ("name", "at_least"), [("ifeval", 300), ("math", 100), ("safety", 50), ("overrefusal", 50), ("general", 50)]
)
def test_builtin_sets_are_large_enough_to_move_in_small_steps(name, at_least):
    assert len(load_probes(name)) >= at_least


def test_overrefusal_look_alikes_name_existing_harmful_requests():
    harmful = {it["id"]: it["prompt"] for it in load_probes("safety")}
    benign = load_probes("overrefusal")
    paired = [it for it in benign if "pair" in it]
    assert len(paired) >= 20 and all(it["pair"] in harmful for it in paired)
    assert not {it["prompt"] for it in benign} & set(harmful.values())


def test_builtin_ifeval_uses_every_check_type():
    used = {c["type"] for it in load_probes("ifeval") for c in it["checks"]}
    assert used == set(CHECK_TYPES)


def test_builtin_math_answers_are_normalised_numbers():
    for item in load_probes("math"):
        assert normalize_number(item["answer"]) == item["answer"], item


def test_limit_keeps_the_first_items():
    assert [it["id"] for it in load_probes("math", limit=3)] == [it["id"] for it in load_probes("math")[:3]]


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")


def test_user_set_replaces_builtin_and_others_stay_builtin(tmp_path):
    _write(
        tmp_path / "math.jsonl",
        [
            {"id": "u1", "question": "What is 2 + 2?", "answer": 4, "topic": "sums"},
            "",
            {"id": "u2", "question": "What is 1,000 + 500?", "answer": "$1,500"},
        ],
    )
    items = load_probes("math", tmp_path)
    assert items == [
        {"id": "u1", "question": "What is 2 + 2?", "answer": "4", "topic": "sums"},
        {"id": "u2", "question": "What is 1,000 + 500?", "answer": "1500"},
    ]
    assert load_probes("safety", tmp_path) == load_probes("safety")


def test_malformed_json_line_is_named(tmp_path):
    _write(tmp_path / "safety.jsonl", [{"id": "a", "prompt": "x"}, '{"id": "b", "prompt": '])
    with pytest.raises(ValueError, match=r"safety\.jsonl line 2: not valid JSON"):
        load_probes("safety", tmp_path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"id": "a"}, r"line 2: prompt: Field required"),
        ({"id": "a", "prompt": "   "}, r"line 2: prompt: .*blank"),
        ({"id": "a", "prompt": "p", "checks": [{"type": "max_words", "n": -1}]}, r"line 2: checks\.0\.max_words\.n"),
        ({"id": "a", "prompt": "p", "checks": []}, r"line 2: checks: "),
        (["not", "an", "object"], r"line 2: expected a JSON object"),
    ],
)
def test_invalid_ifeval_line_names_line_and_field(tmp_path, row, message):
    _write(tmp_path / "ifeval.jsonl", [{"id": "ok", "prompt": "p", "checks": [{"type": "lowercase"}]}, row])
    with pytest.raises(ValueError, match=message) as info:
        load_probes("ifeval", tmp_path)
    assert str(tmp_path / "ifeval.jsonl") in str(info.value)


def test_non_numeric_math_answer_is_rejected(tmp_path):
    _write(tmp_path / "math.jsonl", [{"id": "a", "question": "q", "answer": "eighteen"}])
    with pytest.raises(ValueError, match=r"line 1: answer: .*'eighteen' is not a number"):
        load_probes("math", tmp_path)


def test_duplicate_ids_are_rejected(tmp_path):
    _write(tmp_path / "general.jsonl", [{"id": "g", "prompt": "a"}, {"id": "g", "prompt": "b"}])
    with pytest.raises(ValueError, match=r"line 2: duplicate id 'g' \(first on line 1\)"):
        load_probes("general", tmp_path)


def test_empty_user_set_is_rejected(tmp_path):
    (tmp_path / "general.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no probe items"):
        load_probes("general", tmp_path)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown probe set 'mmlu'"):
        load_probes("mmlu")
    with pytest.raises(ValueError, match="limit must be at least 1"):
        load_probes("math", limit=0)
    with pytest.raises(ValueError, match="is not a directory"):
        load_probes("math", "/nonexistent/probes")
