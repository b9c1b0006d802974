"""The first step of a run: read the training (and validation) file and choose the held-out pairs."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radis_core.config import JobSpec
from radis_core.corpus import DEFAULT_LIMITS, Pair, load_corpus


class CorpusRejected(ValueError):
    """The training or validation file has errors; ``report`` says which lines."""

    def __init__(self, which: str, report: Any) -> None:
        first = report.first_error  # its message already starts with "line N:"
        super().__init__(f"{which} file is invalid: {first.message if first else 'no usable pairs'}")
        self.which = which
        self.report = report


@dataclass(frozen=True)
class JobData:
    """The pairs a run trains on and the pairs it evaluates on."""

    train_pairs: list[Pair]
    eval_pairs: list[Pair]

    @property
    def language_pairs(self) -> dict[str, int]:
        """Training pairs per direction (``"de-en": 80``)."""
        return dict(Counter(f"{p.src_lang}-{p.tgt_lang}" for p in self.train_pairs))


def _load_pairs(path: Path, which: str, spec: JobSpec) -> list[Pair]:
    # A handful of held-out pairs is a valid (if noisy) evaluation set; training needs the default minimum.
    limits = dataclasses.replace(DEFAULT_LIMITS, min_examples=1) if which == "validation" else DEFAULT_LIMITS
    pairs, report = load_corpus(path, src_lang=spec.src_lang, tgt_lang=spec.tgt_lang, limits=limits)
    if not report.ok or not pairs:
        raise CorpusRejected(which, report)
    return pairs


def _directions(pairs: Sequence[Pair]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        groups.setdefault(f"{p.src_lang}-{p.tgt_lang}", []).append(i)
    return groups


def split_holdout(pairs: Sequence[Pair], fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """Seeded split into (train, held out), stratified by direction.

    Each direction with at least two pairs holds out ``round(n * fraction)`` of them (at least one, never
    all), so every direction a job trains on is also scored. A job whose directions each have one pair
    falls back to one held-out pair overall, so both sides are never empty.
    """
    rng = random.Random(seed)
    held: set[int] = set()
    for idx in _directions(pairs).values():
        if len(idx) < 2:
            continue
        idx = list(idx)
        rng.shuffle(idx)
        held.update(idx[: min(max(1, round(len(idx) * fraction)), len(idx) - 1)])
    if not held and len(pairs) > 1:
        held = {rng.randrange(len(pairs))}
    ordered = sorted(held, key=lambda i: rng.random())  # a seeded order, so a cap takes a random subset
    return [p for i, p in enumerate(pairs) if i not in held], [pairs[i] for i in ordered]


def cap_per_direction(pairs: Sequence[Pair], limit: int) -> list[Pair]:
    """At most ``limit`` pairs, shared between directions in proportion to their size (largest remainder),
    each direction keeping at least one while ``limit`` allows; order within a direction is kept."""
    if len(pairs) <= limit:
        return list(pairs)
    groups = _directions(pairs)
    quota = {d: max(1, len(idx) * limit // len(pairs)) if limit >= len(groups) else 0 for d, idx in groups.items()}
    by_remainder = sorted(groups, key=lambda d: -((len(groups[d]) * limit) % len(pairs)))
    for d in by_remainder * 2:
        if sum(quota.values()) >= limit:
            break
        if quota[d] < len(groups[d]):
            quota[d] += 1
    while sum(quota.values()) > limit:  # the floors of one per direction overshot: trim the largest
        quota[max(quota, key=lambda d: quota[d])] -= 1
    keep = {i for d, idx in groups.items() for i in idx[: quota[d]]}
    return [p for i, p in enumerate(pairs) if i in keep]


def load_job_data(spec: JobSpec) -> JobData:
    """The training pairs and up to ``evaluation.max_eval_pairs`` held-out pairs, every direction represented
    (the validation file, or a seeded stratified holdout of the training file); :class:`CorpusRejected`
    names the first bad line."""
    pairs = _load_pairs(Path(spec.train_file), "training", spec)
    if spec.valid_file:
        train_pairs, held_out = pairs, _load_pairs(Path(spec.valid_file), "validation", spec)
    else:
        train_pairs, held_out = split_holdout(pairs, spec.evaluation.holdout_fraction, spec.seed)
    return JobData(train_pairs=train_pairs, eval_pairs=cap_per_direction(held_out, spec.evaluation.max_eval_pairs))
