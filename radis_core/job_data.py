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


def split_holdout(pairs: Sequence[Pair], fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """Seeded split into (train, held out); at least one pair stays on each side."""
    idx = list(range(len(pairs)))
    random.Random(seed).shuffle(idx)
    n_hold = min(max(1, round(len(pairs) * fraction)), len(pairs) - 1)
    held = set(idx[:n_hold])
    return [p for i, p in enumerate(pairs) if i not in held], [p for i, p in enumerate(pairs) if i in held]


def load_job_data(spec: JobSpec) -> JobData:
    """The training pairs and up to ``evaluation.max_eval_pairs`` held-out pairs (the validation file, or a
    seeded holdout of the training file); :class:`CorpusRejected` names the first bad line."""
    pairs = _load_pairs(Path(spec.train_file), "training", spec)
    if spec.valid_file:
        train_pairs, held_out = pairs, _load_pairs(Path(spec.valid_file), "validation", spec)
    else:
        train_pairs, held_out = split_holdout(pairs, spec.evaluation.holdout_fraction, spec.seed)
    return JobData(train_pairs=train_pairs, eval_pairs=held_out[: spec.evaluation.max_eval_pairs])
