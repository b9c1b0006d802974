"""Paired-bootstrap intervals: hand-computable cases and agreement with sacrebleu's own paired-bs test."""

from __future__ import annotations

import numpy as np
import pytest
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.significance import PairedTest

from radis_core.evaluation.intervals import NO_DIFFERENCE, mean_interval, paired_corpus_metric, paired_mean, verdict


def test_every_item_better_by_one_is_better_with_a_point_interval() -> None:
    iv = paired_mean([0, 0, 0, 0], [1, 1, 1, 1])
    assert (iv.delta, iv.low, iv.high, iv.n) == (1.0, 1.0, 1.0, 4)
    assert iv.verdict == "better"


def test_half_the_items_better_spans_zero() -> None:
    # Per-item differences 1, 1, 0, 0: a resample's mean is k/4 with k ~ Binomial(4, 1/2). P(k = 0) =
    # P(k = 4) = 1/16 > 2.5 %, so the 95 % interval is [0, 1]: it touches 0, so no measurable difference.
    iv = paired_mean([0, 0, 1, 1], [1, 1, 1, 1], n_samples=20_000)
    assert iv.delta == 0.5
    assert (iv.low, iv.high) == (0.0, 1.0)
    assert iv.verdict == NO_DIFFERENCE


def test_lower_is_better_flips_the_verdict() -> None:
    iv = paired_mean([2.0, 2.0, 2.0], [3.0, 3.0, 3.5], higher_is_better=False)
    assert iv.low > 0 and iv.verdict == "worse"
    assert verdict(-2.0, -1.0, higher_is_better=False) == "better"


def test_many_items_with_a_small_consistent_gain_are_better() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2, 400).tolist()
    tuned = [1 if b or i % 5 == 0 else 0 for i, b in enumerate(base)]
    iv = paired_mean(base, tuned)
    assert iv.verdict == "better" and 0 < iv.low < iv.delta < iv.high


def test_corpus_metric_delta_equals_sacrebleu_difference_and_identical_systems_do_not_differ() -> None:
    refs = ["the cat sat on the mat", "a dog ran in the park", "it is raining today", "we like green tea"]
    base = ["cat sat on a mat", "dog in park", "it rains", "we like tea"]
    tuned = ["the cat sat on the mat", "a dog ran in the park", "it is raining", "we like green tea"]
    bleu = BLEU()
    iv = paired_corpus_metric(bleu, base, tuned, refs)
    expected = BLEU().corpus_score(tuned, [refs]).score - BLEU().corpus_score(base, [refs]).score
    assert iv.delta == pytest.approx(expected)
    assert iv.low <= iv.delta <= iv.high
    same = paired_corpus_metric(CHRF(word_order=2), base, base, refs)
    assert (same.delta, same.low, same.high, same.verdict) == (0.0, 0.0, 0.0, NO_DIFFERENCE)


def test_resamples_are_sacrebleus_own() -> None:
    """Our tuned-system resample mean equals the mean sacrebleu's paired-bs test reports for it."""
    refs = [f"sentence number {i} has some words in it" for i in range(30)]
    base = [f"sentence {i} has words" for i in range(30)]
    tuned = [f"sentence number {i} has some words" if i % 3 else f"number {i}" for i in range(30)]
    chrf = CHRF(word_order=2)
    test = PairedTest([("baseline", base), ("tuned", tuned)], {"chrF2++": chrf}, [refs], test_type="bs", n_samples=1000)
    _, results = test()
    sacrebleu_mean = results["chrF2++"][1].mean
    stats = np.array(chrf._extract_corpus_statistics(tuned, [refs]), dtype="float64")
    idx = np.random.default_rng(12345).choice(30, size=(1000, 30), replace=True)
    ours = np.mean([chrf._compute_score_from_stats(stats[i].sum(0)).score for i in idx])
    assert ours == pytest.approx(sacrebleu_mean, abs=0.01)


def test_mean_interval_and_bad_input() -> None:
    assert mean_interval([1.0, 1.0, 1.0]) == (1.0, 1.0)
    with pytest.raises(ValueError, match="same non-zero"):
        paired_mean([1.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="same non-zero"):
        paired_corpus_metric(BLEU(), [], [], [])
