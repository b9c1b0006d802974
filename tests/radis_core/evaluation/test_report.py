"""The report dict holds base-vs-tuned numbers with deltas, stays strict JSON, and renders as Markdown tables."""

import json

import pytest

from radis_core.corpus import Pair
from radis_core.evaluation.report import build_report, render_markdown
from radis_core.evaluation.retention import BENCHMARKS, BenchmarkRun, BenchmarkScore, ItemResult, compare
from radis_core.evaluation.translation import comet_scores
from radis_core.evaluation.translation_compare import score_translations

REFS = ["The cat sat on the mat.", "It is raining today."]
SOURCES = ["Die Katze saß auf der Matte.", "Es regnet heute."]
PAIRS = [Pair(s, r, "de", "en", i + 1) for i, (s, r) in enumerate(zip(SOURCES, REFS, strict=True))]


def translation_scores(hyps, refs=REFS):
    return score_translations(PAIRS[: len(hyps)], hyps)


def _retention():
    def run(values):
        return BenchmarkRun(
            scores={
                n: BenchmarkScore(n, values[n], 1, n != "drift", {"answers_sha256": "x"} if n == "drift" else {})
                for n in BENCHMARKS
            },
            items={n: [ItemResult("a", "p", "r", None)] for n in BENCHMARKS},
            general_answers={},
        )

    return compare(
        run({"ifeval": 0.5, "math": 0.0, "safety": 1.0, "overrefusal": 0.5, "drift": 1.0}),
        run({"ifeval": 0.5, "math": 0.5, "safety": 0.5, "overrefusal": 0.5, "drift": 2.0}),
        min_retention=0.9,
    )


def _report(**overrides):
    args = dict(
        translation_base=translation_scores(["A cat sat on a mat.", "It rains today."], REFS),
        translation_tuned=translation_scores(["The cat sat on the mat.", "It is raining today."], REFS),
        comet_base=comet_scores(REFS, REFS, REFS, None),
        comet_tuned=comet_scores(REFS, REFS, REFS, None),
        retention=_retention(),
        rationale_stats={"generated": 10, "rejected_degenerate": 1},
        training={"steps": 20, "final_loss": 0.84},
        timings={"rationales_s": 12.5, "training_s": 80.0},
        meta={"model": "tiny", "method": "radis"},
    )
    args.update(overrides)
    return build_report(**args)


def test_translation_section_has_base_tuned_and_delta():
    report = _report()
    bleu = report["translation"]["bleu"]
    assert bleu["tuned"] == pytest.approx(100.0)
    assert bleu["delta"] == pytest.approx(bleu["tuned"] - bleu["base"])
    assert report["translation"]["chrf"]["delta"] > 0
    assert report["translation"]["n"] == 2
    assert report["translation"]["comet"] == {
        "available": False,
        "base": report["translation"]["comet"]["base"],
        "tuned": report["translation"]["comet"]["tuned"],
        "delta": None,
        "interval": None,
    }
    json.dumps(report, allow_nan=False)


def test_comet_delta_when_both_available():
    report = _report(
        comet_base={"available": True, "score": 0.70, "scores": [0.6, 0.8]},
        comet_tuned={"available": True, "score": 0.75, "scores": [0.7, 0.8]},
    )
    assert report["translation"]["comet"]["delta"] == pytest.approx(0.05)
    interval = report["translation"]["comet"]["interval"]
    assert interval["delta"] == pytest.approx(0.05) and (interval["low"], interval["high"]) == (0.0, 0.1)
    assert "| COMET | 0.7000 | 0.7500 | +0.0500 | [+0.0000, +0.1000] | no measurable difference |" in render_markdown(report)


def test_missing_retention_is_reported_as_not_run():
    report = _report(retention=None)
    assert report["retention"]["available"] is False
    assert "Not run (retention benchmarks were not run)" in render_markdown(report)


def test_non_json_values_name_the_section():
    with pytest.raises(ValueError, match="section 'training'"):
        _report(training={"final_loss": float("nan")})


def test_mismatched_pair_counts_are_rejected():
    with pytest.raises(ValueError, match="scored 2 pairs but translation_tuned 1"):
        _report(translation_tuned=translation_scores(["x"]))
    with pytest.raises(ValueError, match="translation_base lacks chrf, items"):
        _report(translation_base={"bleu": 1.0, "n": 2})


def test_markdown_has_the_tables():
    md = render_markdown(_report())
    assert "## Translation (2 held-out pairs)" in md
    assert "| BLEU | " in md and "| chrF++ | " in md
    assert "COMET: not available (no COMET checkpoint configured" in md
    assert "| ifeval | " in md and "| drift | " in md
    assert "n/a (base score is 0, so tuned / base is undefined)" in md
    assert "retention = base_nll / tuned_nll = 1.0000 / 2.0000 = 0.5000" in md
    assert "**Overall retention**: 0.833" in md  # (1 + 0.5 + 1) / 3; math has base 0
    assert "**BELOW** the minimum" in md
    assert "| rejected_degenerate | 1 |" in md
    assert "| training_s | 80.0 |" in md
    assert "**model**: tiny" in md


def test_list_and_dict_values_are_printed_as_json_and_long_series_are_summarised():
    md = render_markdown(
        _report(
            training={"lora_targets": ["q_proj", "v_proj"], "loss": [0.1 * i for i in range(7)]},
            meta={"model": "tiny", "langs": {"de": "en"}},
        )
    )
    assert '| lora_targets | ["q_proj", "v_proj"] |' in md
    assert '**langs**: {"de": "en"}' in md
    assert "| loss | 7 values: 0.0000 … 0.6000 |" in md


def test_ifeval_row_is_followed_by_its_instruction_level_accuracy():
    report = _report()
    report["retention"]["benchmarks"]["ifeval"]["instruction_level_accuracy"] = {"base": 0.75, "tuned": 0.5}
    md = render_markdown(report)
    assert "| ifeval | instruction-level accuracy | | 0.750 | 0.500 | | | | |" in md


def test_placeholder_row_and_teacher_titles_use_their_own_digits_and_names():
    report = _report()
    report["translation"]["placeholders"] = {
        "available": True,
        "n": 4,
        "base": 0.5,
        "tuned": 0.75,
        "delta": 0.25,
        "interval": {"low": 0.0, "high": 0.5, "verdict": "no measurable difference"},
    }
    report["rationales"] = {"kind": "translation", "generated": 3}
    md = render_markdown(report)
    assert "| Placeholders kept (n=4) | 0.500 | 0.750 | +0.250 | [+0.000, +0.500] | no measurable difference |" in md
    assert "## Teacher translations (SeqKD)" in md
