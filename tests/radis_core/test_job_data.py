"""The held-out split and the evaluation cap keep every language direction of a job."""

from __future__ import annotations

from collections import Counter

from radis_core.corpus import Pair
from radis_core.job_data import cap_per_direction, split_holdout


def _pairs(direction: str, n: int, start: int = 0) -> list[Pair]:
    src, tgt = direction.split("-")
    return [Pair(f"{direction} source {i}", f"target {i}", src, tgt, start + i) for i in range(n)]


def _count(pairs: list[Pair]) -> Counter[str]:
    return Counter(f"{p.src_lang}-{p.tgt_lang}" for p in pairs)


def test_every_direction_is_held_out_in_proportion() -> None:
    pairs = _pairs("en-de", 100) + _pairs("en-zh", 10, 100) + _pairs("en-cs", 2, 110)
    train, held = split_holdout(pairs, 0.2, seed=7)
    assert _count(held) == {"en-de": 20, "en-zh": 2, "en-cs": 1}
    assert _count(train) == {"en-de": 80, "en-zh": 8, "en-cs": 1}
    assert not set(train) & set(held)
    assert split_holdout(pairs, 0.2, seed=7) == (train, held)  # seeded
    assert split_holdout(pairs, 0.2, seed=8)[1] != held


def test_a_direction_with_one_pair_stays_in_training_but_something_is_held_out() -> None:
    train, held = split_holdout(_pairs("en-de", 1) + _pairs("en-ru", 1, 1), 0.5, seed=0)
    assert len(train) == 1 and len(held) == 1


def test_the_cap_keeps_every_direction_and_shares_in_proportion() -> None:
    held = _pairs("en-de", 60) + _pairs("en-zh", 30, 60) + _pairs("en-ru", 3, 90)
    capped = cap_per_direction(held, 20)
    assert len(capped) == 20
    counts = _count(capped)
    assert set(counts) == {"en-de", "en-zh", "en-ru"}
    assert counts["en-de"] > counts["en-zh"] > counts["en-ru"] >= 1
    # The first pairs of each direction are kept (the split's order is already seeded).
    assert [p for p in capped if p.tgt_lang == "de"] == held[: counts["en-de"]]
    assert cap_per_direction(held, 1000) == held
    assert len(cap_per_direction(held, 2)) == 2
