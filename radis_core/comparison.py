"""Several methods on one corpus, several seeds each, compared with paired-bootstrap intervals.

``run_comparison`` runs one job per (method, seed) into ``<out>/<method>-seed<seed>/``: rationales,
teacher texts and the base evaluation come from the caches, so only the first job pays for them.
``compare_reports`` reads the jobs' ``report.json`` files and builds two tables:

- **vs base**: each method's translation gain and each probe's change, tuned − base;
- **vs reference method** (``supervised`` by default, the paper's vanilla fine-tuning): each method's
  tuned model minus the reference method's tuned model, item by item on the same held-out pairs and
  probes — the comparison that says whether RaDis keeps more than plain fine-tuning.

With several seeds every number is the mean over seeds, and each bootstrap resample draws the same
items for every seed (one shared draw), so the interval covers item sampling; the seeds' spread is
reported beside it. Items must be the same across seeds: pass a validation file (the held-out split
of a training file depends on the seed).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sacrebleu.metrics import CHRF

from radis_core.evaluation.intervals import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Interval,
    paired_corpus_metric_diffs,
    verdict,
)
from radis_core.evaluation.translation import _make_bleu
from radis_core.events import EventCallback, no_events

Report = dict[str, Any]
#: Probe benchmarks compared item by item (drift is lower-is-better; its unit is NLL, not a rate).
LOWER_IS_BETTER = {"drift"}


def _interval_from(deltas: list[float], diffs: np.ndarray, n: int, higher_is_better: bool) -> dict[str, Any]:
    low, high = (float(x) for x in np.percentile(diffs, [2.5, 97.5]))
    delta = float(np.mean(deltas))
    row = Interval(delta=delta, low=low, high=high, n=n, verdict=verdict(low, high, higher_is_better)).to_dict()
    row["per_seed"] = [round(d, 4) for d in deltas]
    return row


def _translation_delta(a_runs: Sequence[Report], b_runs: Sequence[Report], key: str, a_side: str, b_side: str) -> dict[str, Any]:
    """Mean over seeds of corpus metric(a) − metric(b), per direction resampled within itself."""
    deltas, diffs = [], []
    for a, b in zip(a_runs, b_runs, strict=True):
        a_items, b_items = a["translation"]["items"], b["translation"]["items"]
        if [(i["direction"], i["source"]) for i in a_items] != [(i["direction"], i["source"]) for i in b_items]:
            raise ValueError("the runs scored different held-out pairs: pass the same validation file to every job")
        groups: dict[str, list[int]] = {}
        for i, item in enumerate(a_items):
            groups.setdefault(item["direction"], []).append(i)
        seed_deltas, seed_diffs = [], []
        for direction, idx in groups.items():
            metric = _make_bleu(direction.split("-", 1)[1])[0] if key == "bleu" else CHRF(word_order=2)
            refs = [a_items[i]["reference"] for i in idx]
            interval, d = paired_corpus_metric_diffs(
                metric, [b_items[i][b_side] for i in idx], [a_items[i][a_side] for i in idx], refs
            )
            seed_deltas.append(interval.delta)
            seed_diffs.append(d)
        deltas.append(float(np.mean(seed_deltas)))
        diffs.append(np.mean(np.stack(seed_diffs), axis=0))
    return _interval_from(deltas, np.mean(np.stack(diffs), axis=0), len(a_runs[0]["translation"]["items"]), True)


def _probe_values(report: Report, name: str, side: str) -> dict[str, float]:
    rows = ((report.get("retention") or {}).get("benchmarks") or {}).get(name, {}).get("items") or []
    return {r["id"]: float(r[side]) for r in rows if isinstance(r.get(side), (bool, int, float))}


def _probe_delta(
    a_runs: Sequence[Report], b_runs: Sequence[Report], name: str, a_side: str, b_side: str
) -> dict[str, Any] | None:
    """Mean over seeds of a probe's per-item value a − b, on the items every run scored."""
    per_run = [(_probe_values(a, name, a_side), _probe_values(b, name, b_side)) for a, b in zip(a_runs, b_runs, strict=True)]
    common = sorted(set.intersection(*(set(a) & set(b) for a, b in per_run))) if per_run else []
    if not common:
        return None
    matrix = np.array([[a[i] - b[i] for i in common] for a, b in per_run])  # seeds × items
    per_item = matrix.mean(axis=0)
    idx = np.random.default_rng(DEFAULT_SEED).choice(len(common), size=(DEFAULT_RESAMPLES, len(common)), replace=True)
    return _interval_from(
        [float(row.mean()) for row in matrix], per_item[idx].mean(axis=1), len(common), name not in LOWER_IS_BETTER
    )


def _benchmarks(runs: Sequence[Report]) -> list[str]:
    names: list[str] = []
    for r in runs:
        for name in (r.get("retention") or {}).get("benchmarks") or {}:
            if name not in names:
                names.append(name)
    return names


def _mean(values: Sequence[Any]) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return float(np.mean(numbers)) if numbers else None


def compare_reports(reports: dict[str, list[Report]], reference: str = "supervised") -> dict[str, Any]:
    """The comparison of ``{method: [report per seed]}`` (seeds in the same order for every method)."""
    seeds = {len(r) for r in reports.values()}
    if len(seeds) != 1 or not reports:
        raise ValueError(f"every method needs the same number of seeds; got { ({m: len(r) for m, r in reports.items()}) }")
    any_runs = next(iter(reports.values()))
    benchmarks = _benchmarks(any_runs)
    methods: dict[str, Any] = {}
    for method, runs in reports.items():
        row: dict[str, Any] = {
            "seeds": len(runs),
            "bleu_tuned": _mean([r["translation"]["bleu"]["tuned"] for r in runs]),
            "chrf_tuned": _mean([r["translation"]["chrf"]["tuned"] for r in runs]),
            "vs_base": {
                "bleu": _translation_delta(runs, runs, "bleu", "tuned", "base"),
                "chrf": _translation_delta(runs, runs, "chrf", "tuned", "base"),
                **{n: _probe_delta(runs, runs, n, "tuned", "base") for n in benchmarks},
            },
            "overall_retention": _mean([((r.get("retention") or {}).get("overall") or {}).get("retention") for r in runs]),
            "steps": _mean([(r.get("training") or {}).get("steps") for r in runs]),
            "wall_seconds": _mean([(r.get("timings") or {}).get("total_seconds") for r in runs]),
        }
        kept = [(r.get("rationales") or {}).get("kept") for r in runs]
        if any(k is not None for k in kept):
            row["teacher_texts_kept"] = _mean(kept)
        if method != reference and reference in reports:
            other = reports[reference]
            row[f"vs_{reference}"] = {
                "bleu": _translation_delta(runs, other, "bleu", "tuned", "tuned"),
                "chrf": _translation_delta(runs, other, "chrf", "tuned", "tuned"),
                **{n: _probe_delta(runs, other, n, "tuned", "tuned") for n in benchmarks},
            }
        methods[method] = row
    base = any_runs[0]
    return {
        "reference_method": reference,
        "seeds": seeds.pop(),
        "eval_pairs": base["translation"]["n"],
        "benchmarks": benchmarks,
        "base": {
            "bleu": base["translation"]["bleu"]["base"],
            "chrf": base["translation"]["chrf"]["base"],
            **{n: ((base.get("retention") or {}).get("benchmarks") or {}).get(n, {}).get("base") for n in benchmarks},
        },
        "methods": methods,
        "interval": f"paired bootstrap over items, {DEFAULT_RESAMPLES} resamples, 95 % percentile; mean over seeds",
    }


def _cell(iv: dict[str, Any] | None, digits: int = 2) -> str:
    if not iv:
        return "—"
    mark = "" if iv["verdict"] == "no measurable difference" else f" **{iv['verdict']}**"
    return f"{iv['delta']:+.{digits}f} [{iv['low']:+.{digits}f}, {iv['high']:+.{digits}f}]{mark}"


def render_comparison(comparison: dict[str, Any]) -> str:
    """``comparison.md``: the two tables, every delta with its interval (bold where the interval excludes 0)."""
    bench = comparison["benchmarks"]
    ref = comparison["reference_method"]
    head = "| Method | " + " | ".join(["BLEU Δ", "chrF++ Δ", *[f"{b} Δ" for b in bench]]) + " |"
    rule = "|---|" + "---|" * (2 + len(bench))

    def digits(name: str) -> int:
        return 2 if name in ("bleu", "chrf") else 3

    lines = [
        "# Method comparison",
        "",
        f"{comparison['seeds']} seed(s) per method, {comparison['eval_pairs']} held-out pairs. Base model: BLEU "
        f"{comparison['base']['bleu']:.2f}, chrF++ {comparison['base']['chrf']:.2f}"
        + "".join(f", {b} {comparison['base'][b]:.3f}" for b in bench if isinstance(comparison["base"].get(b), (int, float)))
        + ".",
        "",
        f"Intervals: {comparison['interval']}. Probe deltas are pass-rate differences (drift: NLL, lower is better).",
        "",
        "## Tuned − base",
        "",
        head,
        rule,
    ]
    for method, row in comparison["methods"].items():
        cells = [_cell(row["vs_base"].get(k), digits(k)) for k in ("bleu", "chrf", *bench)]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", f"## Tuned − {ref} (tuned)", "", head, rule]
    for method, row in comparison["methods"].items():
        if f"vs_{ref}" in row:
            cells = [_cell(row[f"vs_{ref}"].get(k), digits(k)) for k in ("bleu", "chrf", *bench)]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Per method",
        "",
        "| Method | BLEU | chrF++ | overall retention | steps | teacher texts kept | wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, row in comparison["methods"].items():
        vals = [
            row["bleu_tuned"],
            row["chrf_tuned"],
            row["overall_retention"],
            row["steps"],
            row.get("teacher_texts_kept"),
            row["wall_seconds"],
        ]
        lines.append(f"| {method} | " + " | ".join("—" if v is None else f"{v:.2f}" for v in vals) + " |")
    return "\n".join(lines) + "\n"


def write_comparison(out: Path, reports: dict[str, list[Report]], reference: str = "supervised") -> dict[str, Any]:
    """Write ``comparison.json`` and ``comparison.md`` into ``out``; returns the comparison."""
    comparison = compare_reports(reports, reference)
    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.json").write_text(json.dumps(comparison, indent=2, allow_nan=False), encoding="utf-8")
    (out / "comparison.md").write_text(render_comparison(comparison), encoding="utf-8")
    return comparison


def run_comparison(
    make_spec: Callable[[str, int, Path], Any],
    methods: Sequence[str],
    seeds: Sequence[int],
    out: Path,
    on_event: EventCallback = no_events,
) -> dict[str, Any]:
    """Run every (method, seed) job built by ``make_spec(method, seed, output_dir)``, then compare them.

    A job whose ``report.json`` already exists in its folder is not run again, so an interrupted
    comparison continues where it stopped.
    """
    from radis_core.pipeline import run_job

    reports: dict[str, list[Report]] = {m: [] for m in methods}
    for seed in seeds:
        for method in methods:
            job_dir = out / f"{method}-seed{seed}"
            report_path = job_dir / "report.json"
            if not report_path.exists():
                run_job(make_spec(method, seed, job_dir), on_event=on_event)
            reports[method].append(json.loads(report_path.read_text(encoding="utf-8")))
    reference = "supervised" if "supervised" in methods else methods[0]
    return write_comparison(out, reports, reference)
