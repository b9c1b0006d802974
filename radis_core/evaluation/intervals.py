"""Confidence intervals for before/after differences: paired bootstrap over the evaluated items.

Every delta the report shows (tuned − base BLEU, chrF++, a probe's pass rate, drift NLL) comes with a
95 % interval from resampling the *items* with replacement and recomputing both systems' scores on the
same resample, so the interval reflects which items were drawn, not noise between two unrelated draws.
For corpus metrics the recomputation uses sacrebleu's own sufficient statistics
(``_extract_corpus_statistics`` / ``_compute_score_from_stats``), the same path as sacrebleu's
``paired-bs`` significance test, with its default seed (12345) and 1,000 resamples.

The interval is the percentile interval of the resampled differences (2.5th and 97.5th). A difference
whose interval contains 0 is reported as "no measurable difference": with this many items the data do
not tell the two apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: sacrebleu's default seed for its bootstrap tests; fixed so a report is reproducible.
DEFAULT_SEED = 12345
DEFAULT_RESAMPLES = 1000
NO_DIFFERENCE = "no measurable difference"


@dataclass(frozen=True)
class Interval:
    """A difference (tuned − base) with its 95 % paired-bootstrap interval and what it says."""

    delta: float
    low: float
    high: float
    n: int
    verdict: str
    method: str = "paired bootstrap, 95 % percentile interval"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (rounded to 4 decimals)."""
        data = asdict(self)
        for key in ("delta", "low", "high"):
            data[key] = round(float(data[key]), 4)
        return data


def verdict(low: float, high: float, higher_is_better: bool = True) -> str:
    """ "better", "worse" or :data:`NO_DIFFERENCE` for an interval of tuned − base."""
    if low <= 0 <= high:
        return NO_DIFFERENCE
    up = low > 0
    return "better" if up == higher_is_better else "worse"


def _resample_indices(n: int, n_samples: int, seed: int) -> np.ndarray:
    # The same draw sacrebleu's paired-bs test makes: n_samples resamples of n item indices.
    return np.random.default_rng(seed).choice(n, size=(n_samples, n), replace=True)


def _interval(delta: float, diffs: np.ndarray, n: int, higher_is_better: bool) -> Interval:
    low, high = (float(x) for x in np.percentile(diffs, [2.5, 97.5]))
    return Interval(delta=float(delta), low=low, high=high, n=n, verdict=verdict(low, high, higher_is_better))


def paired_corpus_metric_diffs(
    metric: Any,
    base: Sequence[str],
    tuned: Sequence[str],
    references: Sequence[str],
    *,
    n_samples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[Interval, np.ndarray]:
    """:func:`paired_corpus_metric` and the resampled differences themselves (to combine strata)."""
    n = len(references)
    if not n or len(base) != n or len(tuned) != n:
        raise ValueError(f"need the same non-zero number of base, tuned and references; got {len(base)}, {len(tuned)}, {n}")
    refs = [list(references)]
    stats_base = np.array(metric._extract_corpus_statistics(list(base), refs), dtype="float64")
    stats_tuned = np.array(metric._extract_corpus_statistics(list(tuned), refs), dtype="float64")

    def score(stats: np.ndarray) -> float:
        return float(metric._compute_score_from_stats(stats.sum(0)).score)

    delta = score(stats_tuned) - score(stats_base)
    diffs = np.array([score(stats_tuned[idx]) - score(stats_base[idx]) for idx in _resample_indices(n, n_samples, seed)])
    return _interval(delta, diffs, n, higher_is_better=True), diffs


def paired_corpus_metric(
    metric: Any,
    base: Sequence[str],
    tuned: Sequence[str],
    references: Sequence[str],
    *,
    n_samples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Interval for a sacrebleu corpus metric (``BLEU(...)``, ``CHRF(...)``) of ``tuned`` minus ``base``.

    Both systems are scored on the same resampled items from their per-sentence sufficient statistics,
    so one resample costs a sum, not a re-tokenisation.
    """
    return paired_corpus_metric_diffs(metric, base, tuned, references, n_samples=n_samples, seed=seed)[0]


def paired_mean(
    base: Sequence[float],
    tuned: Sequence[float],
    *,
    higher_is_better: bool = True,
    n_samples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Interval for mean(tuned) − mean(base) over paired per-item values (pass flags as 0/1, NLLs)."""
    if len(base) != len(tuned) or not base:
        raise ValueError(f"need the same non-zero number of paired values; got {len(base)} and {len(tuned)}")
    b, t = np.asarray(base, dtype="float64"), np.asarray(tuned, dtype="float64")
    per_item = t - b
    diffs = per_item[_resample_indices(len(per_item), n_samples, seed)].mean(axis=1)
    return _interval(float(per_item.mean()), diffs, len(per_item), higher_is_better)


def mean_interval(
    values: Sequence[float], *, n_samples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> tuple[float, float]:
    """95 % bootstrap percentile interval of one mean (a pass rate's spread on its own)."""
    if not values:
        raise ValueError("no values")
    v = np.asarray(values, dtype="float64")
    means = v[_resample_indices(len(v), n_samples, seed)].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)
