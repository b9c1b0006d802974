"""Translation quality per language direction, per item, and base vs tuned with paired-bootstrap intervals.

A job may mix directions (en→de and en→zh): each direction is scored on its own with its own target
language's tokenizer, and the job-level BLEU/chrF++ are the mean over directions (macro average), so a
large direction does not hide a small one and Chinese is never tokenised as German.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from sacrebleu.metrics import CHRF

from radis_core.corpus import Pair
from radis_core.evaluation.intervals import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Interval,
    paired_corpus_metric_diffs,
    verdict,
)
from radis_core.evaluation.placeholders import placeholder_preservation
from radis_core.evaluation.translation import _make_bleu, translation_scores

METRICS: tuple[tuple[str, str], ...] = (("bleu", "BLEU"), ("chrf", "chrF++"))


def direction_of(pair: Pair) -> str:
    """``"en-de"``: the key a direction is reported under."""
    return f"{pair.src_lang}-{pair.tgt_lang}"


def _by_direction(items: Sequence[dict[str, Any]]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        groups[item["direction"]].append(i)
    return dict(groups)


def score_translations(pairs: Sequence[Pair], hypotheses: Sequence[str]) -> dict[str, Any]:
    """One model's translations: BLEU/chrF++ per direction, their macro average, and every item kept.

    ``items`` holds, in input order, each pair's direction, source, reference and hypothesis with its
    sentence chrF++, so the report can recompute every number and bootstrap over items.
    """
    if len(pairs) != len(hypotheses):
        raise ValueError(f"got {len(hypotheses)} hypotheses for {len(pairs)} pairs")
    if not pairs:
        raise ValueError("no held-out pairs to score")
    chrf = CHRF(word_order=2)
    items = [
        {
            "direction": direction_of(p),
            "tgt_lang": p.tgt_lang,
            "source": p.source,
            "reference": p.target,
            "hypothesis": h,
            "chrf": round(chrf.sentence_score(h, [p.target]).score, 3),
        }
        for p, h in zip(pairs, hypotheses, strict=True)
    ]
    directions: dict[str, dict[str, Any]] = {}
    for direction, idx in _by_direction(items).items():
        directions[direction] = translation_scores(
            [items[i]["hypothesis"] for i in idx], [items[i]["reference"] for i in idx], target_lang=items[idx[0]]["tgt_lang"]
        )
    first = next(iter(directions.values()))
    scores: dict[str, Any] = {key: float(np.mean([d[key] for d in directions.values()])) for key, _ in METRICS}
    scores.update(
        n=len(items),
        bleu_signature=first["bleu_signature"] if len(directions) == 1 else "macro average over directions; see directions",
        chrf_signature=first["chrf_signature"],
        directions=directions,
        placeholders=placeholder_preservation([p.source for p in pairs], list(hypotheses)).to_dict(),
        items=items,
    )
    notes = sorted({d["note"] for d in directions.values() if d.get("note")})
    if notes:
        scores["note"] = "; ".join(notes)
    return scores


def _metric(key: str, tgt_lang: str) -> Any:
    return _make_bleu(tgt_lang)[0] if key == "bleu" else CHRF(word_order=2)


def _delta_interval(base: dict[str, Any], tuned: dict[str, Any], key: str, groups: dict[str, list[int]]) -> dict[str, Any]:
    """Macro-averaged delta of one metric with a stratified paired bootstrap (each direction resampled within itself)."""
    per_direction: dict[str, Interval] = {}
    diffs: list[np.ndarray] = []
    for direction, idx in groups.items():
        b = [base["items"][i]["hypothesis"] for i in idx]
        t = [tuned["items"][i]["hypothesis"] for i in idx]
        refs = [base["items"][i]["reference"] for i in idx]
        interval, d = paired_corpus_metric_diffs(_metric(key, base["items"][idx[0]]["tgt_lang"]), b, t, refs)
        per_direction[direction] = interval
        diffs.append(d)
    mean_diffs = np.mean(np.stack(diffs), axis=0)
    low, high = (float(x) for x in np.percentile(mean_diffs, [2.5, 97.5]))
    delta = float(np.mean([iv.delta for iv in per_direction.values()]))
    overall = Interval(delta=delta, low=low, high=high, n=len(base["items"]), verdict=verdict(low, high))
    return {"overall": overall.to_dict(), "directions": {d: iv.to_dict() for d, iv in per_direction.items()}}


def compare_translations(base: dict[str, Any], tuned: dict[str, Any]) -> dict[str, Any]:
    """The report's translation numbers: per metric base, tuned, delta and its interval; per direction the same;
    placeholder preservation; and the per-item table (both hypotheses with their sentence chrF++)."""
    b_items, t_items = base["items"], tuned["items"]
    if [(i["direction"], i["source"]) for i in b_items] != [(i["direction"], i["source"]) for i in t_items]:
        raise ValueError("base and tuned translated different held-out pairs; deltas need the same items")
    groups = _by_direction(b_items)
    section: dict[str, Any] = {"n": len(b_items), "resamples": DEFAULT_RESAMPLES, "seed": DEFAULT_SEED}
    direction_rows: dict[str, dict[str, Any]] = {d: {"n": len(idx)} for d, idx in groups.items()}
    for key, _ in METRICS:
        intervals = _delta_interval(base, tuned, key, groups)
        section[key] = {
            "base": base[key],
            "tuned": tuned[key],
            "delta": tuned[key] - base[key],
            "interval": intervals["overall"],
            "signature": tuned.get(f"{key}_signature") or base.get(f"{key}_signature"),
        }
        for d in groups:
            b, t = base["directions"][d][key], tuned["directions"][d][key]
            direction_rows[d][key] = {"base": b, "tuned": t, "delta": t - b, "interval": intervals["directions"][d]}
    section["directions"] = direction_rows
    section["placeholders"] = _compare_placeholders(base.get("placeholders"), tuned.get("placeholders"))
    section["items"] = [
        {
            "direction": b["direction"],
            "source": b["source"],
            "reference": b["reference"],
            "base": b["hypothesis"],
            "tuned": t["hypothesis"],
            "chrf_base": b["chrf"],
            "chrf_tuned": t["chrf"],
        }
        for b, t in zip(b_items, t_items, strict=True)
    ]
    return section


def _compare_placeholders(base: dict[str, Any] | None, tuned: dict[str, Any] | None) -> dict[str, Any]:
    from radis_core.evaluation.intervals import paired_mean

    if not base or not tuned or not base.get("n"):
        return {"available": False, "reason": "no held-out source has a placeholder (%(name)s, {count}, …)"}
    pairs = [(b, t) for b, t in zip(base["per_item"], tuned["per_item"], strict=True) if b is not None and t is not None]
    interval = paired_mean([float(b) for b, _ in pairs], [float(t) for _, t in pairs])
    return {
        "available": True,
        "n": base["n"],
        "base": base["rate"],
        "tuned": tuned["rate"],
        "delta": tuned["rate"] - base["rate"],
        "interval": interval.to_dict(),
        "rule": "preserved = the translation holds exactly the source's placeholders (any order)",
    }
