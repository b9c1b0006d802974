"""Per-direction translation scores, per-item rows and base-vs-tuned intervals."""

from __future__ import annotations

import pytest
from sacrebleu.metrics import BLEU

from radis_core.corpus import Pair
from radis_core.evaluation.intervals import NO_DIFFERENCE
from radis_core.evaluation.translation_compare import compare_translations, score_translations

DE = [Pair(f"Source {i} %(name)s", f"Das ist Satz Nummer {i} für %(name)s.", "en", "de", i) for i in range(1, 7)]
ZH = [Pair(f"Source {i}", f"这是第{i}个句子。", "en", "zh", 10 + i) for i in range(1, 5)]


def test_each_direction_is_scored_with_its_own_tokenizer_and_the_job_score_is_their_mean() -> None:
    pairs = DE + ZH
    hyps = [p.target for p in DE] + ["这是一个句子。"] * len(ZH)
    scores = score_translations(pairs, hyps)
    assert set(scores["directions"]) == {"en-de", "en-zh"}
    de, zh = scores["directions"]["en-de"], scores["directions"]["en-zh"]
    assert de["n"] == 6 and zh["n"] == 4
    assert de["bleu"] == pytest.approx(100.0)
    assert "tok:zh" in zh["bleu_signature"]
    assert zh["bleu"] == pytest.approx(BLEU(trg_lang="zh").corpus_score(hyps[6:], [[p.target for p in ZH]]).score)
    assert scores["bleu"] == pytest.approx((de["bleu"] + zh["bleu"]) / 2)
    assert [i["direction"] for i in scores["items"]] == ["en-de"] * 6 + ["en-zh"] * 4
    assert scores["items"][0]["chrf"] == pytest.approx(100.0)
    assert scores["placeholders"]["n"] == 6 and scores["placeholders"]["rate"] == 1.0


def test_compare_gives_every_direction_an_interval_and_keeps_every_item() -> None:
    pairs = DE + ZH
    base = score_translations(pairs, ["Das ist ein Satz."] * 6 + ["这是一个句子。"] * 4)
    tuned = score_translations(pairs, [p.target for p in DE] + ["这是一个句子。"] * 4)
    section = compare_translations(base, tuned)
    assert section["directions"]["en-de"]["chrf"]["interval"]["verdict"] == "better"
    # The zh side did not change: its interval is a point at 0.
    zh = section["directions"]["en-zh"]["bleu"]["interval"]
    assert (zh["delta"], zh["low"], zh["high"], zh["verdict"]) == (0.0, 0.0, 0.0, NO_DIFFERENCE)
    overall = section["chrf"]["interval"]
    assert overall["low"] <= overall["delta"] <= overall["high"] and overall["n"] == 10
    assert section["chrf"]["delta"] == pytest.approx(overall["delta"], abs=1e-3)
    assert len(section["items"]) == 10 and section["items"][0]["tuned"] == DE[0].target
    # Base dropped every placeholder, tuned kept them: a consistent gain over 6 items.
    ph = section["placeholders"]
    assert (ph["base"], ph["tuned"], ph["n"]) == (0.0, 1.0, 6) and ph["interval"]["verdict"] == "better"


def test_different_items_cannot_be_compared() -> None:
    a = score_translations(DE[:2], ["x", "y"])
    b = score_translations(DE[1:3], ["x", "y"])
    with pytest.raises(ValueError, match="different held-out pairs"):
        compare_translations(a, b)


def test_placeholders_unavailable_without_any() -> None:
    a = score_translations(ZH, ["x"] * 4)
    assert compare_translations(a, a)["placeholders"]["available"] is False


def test_each_metric_keeps_its_sacrebleu_signature() -> None:
    scores = score_translations(DE[:2], ["x", "y"])
    section = compare_translations(scores, scores)
    assert section["bleu"]["signature"] == scores["bleu_signature"] and "tok:13a" in section["bleu"]["signature"]
    assert section["chrf"]["signature"] == scores["chrf_signature"]
