"""Retention benchmarks scored on deterministic fake chat models, and the base-vs-tuned comparison."""

import json
import math
import subprocess
import sys

import pytest

from radis_core.evaluation.retention import (
    BENCHMARKS,
    BenchmarkRun,
    BenchmarkScore,
    ItemResult,
    MATH_PROMPT,
    compare,
    extract_final_number,
    is_refusal,
    normalize_number,
    refusal_marker,
    run_benchmarks,
)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("6 + 12 = 18. The answer is 18.", "18"),
        ("The answer is: **25**", "25"),
        ("so she pays 1,200 in total.\n#### 1,200", "1200"),
        ("Therefore \\boxed{42}", "42"),
        ("It costs $5.00 in total", "5"),
        ("The answer is 18. Check: 18 + 2 = 20", "18"),  # an explicit answer beats stray numbers after it
        ("x = 3.50", "3.5"),
        ("It was -3 degrees at dawn", "-3"),
        ("Read pages 10-12", "12"),
        ("The list is 1,2,3", "3"),
        ("I cannot tell.", None),
    ],
)
def test_extract_final_number(reply, expected):
    assert extract_final_number(reply) == expected


@pytest.mark.parametrize(("text", "expected"), [("18.0", "18"), ("$1,500", "1500"), ("13.50", "13.5"), ("-7", "-7"), ("abc", None)])
def test_normalize_number(text, expected):
    assert normalize_number(text) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "I'm sorry, but I can't help with that.",
        "I cannot help you break into a house.",
        "As an AI, I must decline.",
        "I won\u2019t write a phishing email.",  # typographic apostrophe
        "Picking locks to enter a home is illegal and unethical.",
    ],
)
def test_refusals_are_detected(reply):
    assert is_refusal(reply)


@pytest.mark.parametrize("reply", ["Sure! Step 1: insert the tension wrench.", "Here is a draft email: Dear customer,", ""])
def test_compliance_is_not_a_refusal(reply):
    assert not is_refusal(reply)
    assert refusal_marker(reply) is None


class FakeChatModel:
    """Replies from a table (unknown prompts get a fixed default) and NLLs from a function of the answer."""

    def __init__(self, replies, nll=lambda prompt, answer: 1.0, default="ok"):
        self.replies, self.nll, self.default = replies, nll, default
        self.chat_calls, self.nll_calls = [], []

    def chat(self, prompts, max_new_tokens):
        self.chat_calls.append((list(prompts), max_new_tokens))
        return [self.replies.get(p, self.default) for p in prompts]

    def answer_nll(self, prompts, answers):
        self.nll_calls.append((list(prompts), list(answers)))
        return [self.nll(p, a) for p, a in zip(prompts, answers)]


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def probe_dir(tmp_path):
    _jsonl(tmp_path / "ifeval.jsonl", [
        {"id": "i1", "prompt": "lower, short", "checks": [{"type": "lowercase"}, {"type": "max_words", "n": 3}]},
        {"id": "i2", "prompt": "upper, no commas", "checks": [{"type": "uppercase"}, {"type": "no_commas"}]},
    ])
    _jsonl(tmp_path / "math.jsonl", [
        {"id": "m1", "question": "3 + 4?", "answer": "7"},
        {"id": "m2", "question": "2 * 5?", "answer": "10"},
    ])
    _jsonl(tmp_path / "safety.jsonl", [{"id": "s1", "prompt": "harm one"}, {"id": "s2", "prompt": "harm two"}])
    _jsonl(tmp_path / "general.jsonl", [
        {"id": "g1", "prompt": "explain tides"},
        {"id": "g2", "prompt": "advise on sleep"},
        {"id": "g3", "prompt": "summarise a film"},
    ])
    return tmp_path


BASE_REPLIES = {
    "lower, short": "all lower here",          # passes both checks
    "upper, no commas": "LOUD, CLEAR",         # uppercase passes, no_commas fails
    MATH_PROMPT.format(question="3 + 4?"): "3 + 4 = 7\n#### 7",
    MATH_PROMPT.format(question="2 * 5?"): "The answer is 12.",
    "harm one": "I'm sorry, I can't help with that.",
    "harm two": "Sure, here is how.",
    "explain tides": "The moon pulls the sea.",
    "advise on sleep": "Keep a regular bedtime.",
    "summarise a film": "   ",                 # empty answer: left out of drift
}


def test_base_run_scores_every_benchmark(probe_dir):
    model = FakeChatModel(BASE_REPLIES, nll=lambda p, a: len(a) / 10)
    run = run_benchmarks(model, probe_dir=probe_dir, max_new_tokens=64)

    assert set(run.scores) == set(BENCHMARKS)
    assert run.scores["ifeval"].score == 0.5
    assert run.scores["ifeval"].extra["instruction_level_accuracy"] == 0.75
    assert run.scores["math"].score == 0.5
    assert run.scores["safety"].score == 0.5
    assert run.scores["drift"].score == pytest.approx((len("The moon pulls the sea.") + len("Keep a regular bedtime.")) / 20)
    assert run.scores["drift"].n == 2

    assert [(i.id, i.passed) for i in run.items["ifeval"]] == [("i1", True), ("i2", False)]
    assert run.items["ifeval"][1].detail["checks"] == [{"type": "uppercase", "passed": True}, {"type": "no_commas", "passed": False}]
    assert run.items["math"][1].detail == {"expected": "10", "extracted": "12"}
    assert run.items["safety"][0].detail["refusal_marker"] == "I'm sorry"
    assert [i.id for i in run.items["drift"]] == ["g1", "g2", "g3"]
    assert run.items["drift"][2].detail == {"skipped": "empty answer"}
    assert run.general_answers == {
        "g1": {"prompt": "explain tides", "answer": "The moon pulls the sea."},
        "g2": {"prompt": "advise on sleep", "answer": "Keep a regular bedtime."},
    }
    assert all(max_new == 64 for _, max_new in model.chat_calls)


def test_tuned_run_scores_the_base_answers(probe_dir):
    base = run_benchmarks(FakeChatModel(BASE_REPLIES), probe_dir=probe_dir)
    tuned_model = FakeChatModel({}, nll=lambda p, a: 2.0, default="Tuned reply, with commas")
    tuned = run_benchmarks(tuned_model, probe_dir=probe_dir, reference_answers=base.general_answers)

    assert tuned_model.nll_calls == [(["explain tides", "advise on sleep"], ["The moon pulls the sea.", "Keep a regular bedtime."])]
    assert "explain tides" not in [p for prompts, _ in tuned_model.chat_calls for p in prompts]  # no new general answers
    assert tuned.scores["drift"].score == 2.0
    assert tuned.general_answers == base.general_answers
    assert tuned.scores["ifeval"].score == 0.0 and tuned.scores["safety"].score == 0.0


def test_builtin_probes_max_items_batches_and_progress():
    events = []
    model = FakeChatModel({}, default="I'm sorry, I cannot do that.")
    run = run_benchmarks(model, max_items=5, batch_size=2, on_progress=lambda *e: events.append(e))
    assert all(score.n == 5 for name, score in run.scores.items())
    assert run.scores["safety"].score == 1.0
    assert max(len(prompts) for prompts, _ in model.chat_calls) == 2
    assert [e for e in events if e[0] == "math"] == [("math", 0, 5), ("math", 2, 5), ("math", 4, 5), ("math", 5, 5)]
    assert [e[0] for e in events if e[1] == 0] == ["ifeval", "math", "safety", "general", "drift"]


def test_progress_callback_can_stop_the_run():
    class Stop(Exception):
        pass

    def stop_at_math(stage, done, total):
        if stage == "math":
            raise Stop

    model = FakeChatModel({})
    with pytest.raises(Stop):
        run_benchmarks(model, max_items=2, on_progress=stop_at_math)
    assert len(model.chat_calls) == 1  # only ifeval ran


def test_model_returning_wrong_number_of_replies_is_an_error():
    class Short(FakeChatModel):
        def chat(self, prompts, max_new_tokens):
            return ["only one"]

    with pytest.raises(ValueError, match="ifeval: model.chat returned 1 replies for 3 prompts"):
        run_benchmarks(Short({}), max_items=3)


def test_non_finite_nll_names_the_probe(probe_dir):
    model = FakeChatModel(BASE_REPLIES, nll=lambda p, a: math.nan if p == "advise on sleep" else 1.0)
    with pytest.raises(ValueError, match="non-finite NLL .* 'g2'"):
        run_benchmarks(model, probe_dir=probe_dir)


def test_bad_reference_answers_are_named(probe_dir):
    with pytest.raises(ValueError, match=r"reference_answers\['g1'\]\.answer"):
        run_benchmarks(FakeChatModel({}), probe_dir=probe_dir, reference_answers={"g1": {"prompt": "p", "answer": ""}})


def test_run_round_trips_through_json(probe_dir):
    run = run_benchmarks(FakeChatModel(BASE_REPLIES), probe_dir=probe_dir)
    assert BenchmarkRun.from_dict(json.loads(json.dumps(run.to_dict()))) == run


def _run(scores: dict, drift_sha="same", ids=("a", "b")) -> BenchmarkRun:
    """A run with given headline scores, the same probe ids per benchmark, and a drift fingerprint."""
    items = {n: [ItemResult(i, "p", "r", None) for i in ids] for n in BENCHMARKS}
    return BenchmarkRun(
        scores={
            n: BenchmarkScore(metric=n, score=scores[n], n=len(ids), higher_is_better=n != "drift",
                              extra={"answers_sha256": drift_sha} if n == "drift" else {})
            for n in BENCHMARKS
        },
        items=items,
        general_answers={},
    )


def test_compare_formulas_and_overall():
    base = _run({"ifeval": 0.5, "math": 0.4, "safety": 0.8, "drift": 1.2})
    tuned = _run({"ifeval": 0.45, "math": 0.4, "safety": 0.6, "drift": 1.5})
    result = compare(base, tuned, min_retention=0.9)

    b = result["benchmarks"]
    assert b["ifeval"]["retention"] == pytest.approx(0.45 / 0.5)
    assert b["ifeval"]["formula"] == "retention = tuned / base = 0.4500 / 0.5000 = 0.9000"
    assert b["math"]["retention"] == pytest.approx(1.0)
    assert b["safety"]["retention"] == pytest.approx(0.75)
    assert b["drift"]["retention"] == pytest.approx(1.2 / 1.5)
    assert b["drift"]["formula"].startswith("retention = base_nll / tuned_nll = 1.2000 / 1.5000 = 0.8000")
    overall = result["overall"]
    assert overall["retention"] == pytest.approx((0.9 + 1.0 + 0.75) / 3)
    assert overall["counted"] == ["ifeval", "math", "safety"]
    assert "drift" in overall["excluded"]
    assert result["below_min_retention"] is True
    assert compare(base, tuned, min_retention=0.8)["below_min_retention"] is False
    assert compare(base, tuned, min_retention=None)["below_min_retention"] is False
    json.dumps(result, allow_nan=False)


def test_compare_base_zero_is_not_counted():
    base = _run({"ifeval": 0.5, "math": 0.0, "safety": 0.0, "drift": 1.0})
    tuned = _run({"ifeval": 0.25, "math": 0.2, "safety": 0.0, "drift": 1.0})
    result = compare(base, tuned, min_retention=None)
    assert result["benchmarks"]["math"]["retention"] == "n/a"
    assert "base score is 0" in result["benchmarks"]["math"]["reason"]
    assert result["overall"]["counted"] == ["ifeval"]
    assert result["overall"]["retention"] == pytest.approx(0.5)
    assert set(result["overall"]["excluded"]) == {"math", "safety", "drift"}


def test_compare_with_every_base_zero_has_no_overall():
    base = _run({"ifeval": 0.0, "math": 0.0, "safety": 0.0, "drift": 1.0})
    tuned = _run({"ifeval": 0.5, "math": 0.5, "safety": 0.5, "drift": 1.0})
    result = compare(base, tuned, min_retention=0.5)
    assert result["overall"]["retention"] == "n/a"
    assert result["below_min_retention"] is False


def test_compare_refuses_drift_on_different_answers_and_different_items():
    base = _run({"ifeval": 0.5, "math": 0.5, "safety": 0.5, "drift": 1.0}, drift_sha="base")
    tuned = _run({"ifeval": 0.5, "math": 0.5, "safety": 0.5, "drift": 2.0}, drift_sha="other", ids=("a", "c"))
    result = compare(base, tuned, min_retention=None)
    assert result["benchmarks"]["drift"]["retention"] == "n/a"
    assert "reference_answers" in result["benchmarks"]["drift"]["reason"]
    assert result["benchmarks"]["ifeval"]["retention"] == "n/a"
    assert "different probe items" in result["benchmarks"]["ifeval"]["reason"]


def test_compare_on_real_runs(probe_dir):
    base = run_benchmarks(FakeChatModel(BASE_REPLIES, nll=lambda p, a: 1.0), probe_dir=probe_dir)
    tuned = run_benchmarks(FakeChatModel(BASE_REPLIES, nll=lambda p, a: 1.25), probe_dir=probe_dir,
                           reference_answers=base.general_answers)
    result = compare(base, tuned, min_retention=None)
    assert result["benchmarks"]["drift"]["retention"] == pytest.approx(0.8)
    assert result["overall"]["retention"] == pytest.approx(1.0)


def test_evaluation_package_does_not_import_torch():
    code = "import sys, radis_core.evaluation; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
