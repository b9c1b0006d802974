"""The resampling settings reach the bootstrap: a seed and a resample count given to
:func:`paired_corpus_metric` are the ones used, and its defaults are sacrebleu's (seed 12345, 1,000)."""

from __future__ import annotations

from sacrebleu.metrics import CHRF

from radis_core.evaluation.intervals import DEFAULT_RESAMPLES, DEFAULT_SEED, paired_corpus_metric, paired_corpus_metric_diffs

REFS = [f"sentence number {i} has some words in it" for i in range(12)]
BASE = [f"sentence {i} has words" for i in range(12)]
TUNED = [f"sentence number {i} has some words" if i % 3 else f"number {i}" for i in range(12)]


def test_seed_and_resample_count_are_passed_on() -> None:
    chrf = CHRF(word_order=2)
    given, diffs = paired_corpus_metric_diffs(chrf, BASE, TUNED, REFS, n_samples=40, seed=3)
    assert len(diffs) == 40
    assert paired_corpus_metric(chrf, BASE, TUNED, REFS, n_samples=40, seed=3) == given
    # Another seed, or another count, draws other resamples: the interval moves.
    assert paired_corpus_metric(chrf, BASE, TUNED, REFS, n_samples=40, seed=4) != given
    assert paired_corpus_metric(chrf, BASE, TUNED, REFS, n_samples=41, seed=3) != given


def test_the_defaults_are_sacrebleus() -> None:
    chrf = CHRF(word_order=2)
    assert (DEFAULT_SEED, DEFAULT_RESAMPLES) == (12345, 1000)
    default, diffs = paired_corpus_metric_diffs(chrf, BASE, TUNED, REFS)
    assert len(diffs) == 1000
    assert default == paired_corpus_metric_diffs(chrf, BASE, TUNED, REFS, n_samples=1000, seed=12345)[0]
    assert paired_corpus_metric(chrf, BASE, TUNED, REFS) == default
