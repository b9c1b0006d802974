"""The evaluation report of one job: a JSON-ready dict and its Markdown rendering (``report.md``)."""

from __future__ import annotations

import json
import math
from typing import Any

_TRANSLATION_METRICS = (("bleu", "BLEU"), ("chrf", "chrF++"))
_NOT_COMPUTED = {"available": False, "reason": "not computed"}


def _delta(base: Any, tuned: Any) -> float | None:
    if isinstance(base, (int, float)) and isinstance(tuned, (int, float)):
        return float(tuned) - float(base)
    return None


def _comet_interval(base: dict[str, Any], tuned: dict[str, Any]) -> dict[str, Any] | None:
    """Paired interval of the mean segment-score difference (COMET's system score is that mean)."""
    from radis_core.evaluation.intervals import paired_mean

    b, t = base.get("scores"), tuned.get("scores")
    if not isinstance(b, list) or not isinstance(t, list) or len(b) != len(t) or not b:
        return None
    return paired_mean(b, t).to_dict()


def _translation_section(
    base: dict[str, Any], tuned: dict[str, Any], comet_base: dict[str, Any] | None, comet_tuned: dict[str, Any] | None
) -> dict[str, Any]:
    from radis_core.evaluation.translation_compare import compare_translations

    for label, scores in (("translation_base", base), ("translation_tuned", tuned)):
        missing = [k for k in ("bleu", "chrf", "n", "items") if k not in scores]
        if missing:
            raise ValueError(f"{label} lacks {', '.join(missing)} (pass the dict from score_translations)")
    if base["n"] != tuned["n"]:
        raise ValueError(
            f"translation_base scored {base['n']} pairs but translation_tuned {tuned['n']}; deltas need the same pairs"
        )
    section = compare_translations(base, tuned)
    notes = sorted({s["note"] for s in (base, tuned) if s.get("note")})
    if notes:
        section["notes"] = notes
    cb, ct = comet_base or _NOT_COMPUTED, comet_tuned or _NOT_COMPUTED
    both = cb.get("available") and ct.get("available")
    section["comet"] = {
        "available": bool(both),
        "base": cb,
        "tuned": ct,
        "delta": _delta(cb.get("score"), ct.get("score")) if both else None,
        "interval": _comet_interval(cb, ct) if both else None,
    }
    return section


def build_report(
    *,
    translation_base: dict[str, Any],
    translation_tuned: dict[str, Any],
    comet_base: dict[str, Any] | None = None,
    comet_tuned: dict[str, Any] | None = None,
    retention: dict[str, Any] | None = None,
    rationale_stats: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    timings: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the job's evaluation report.

    ``translation_*`` come from :func:`~radis_core.evaluation.translation.translation_scores`,
    ``comet_*`` from :func:`~radis_core.evaluation.translation.comet_scores`, ``retention`` from
    :func:`~radis_core.evaluation.retention.compare` (None when retention was not run). Rationale
    stats, training summary, timings (seconds per stage) and meta (model, method, languages, ...)
    are the caller's dicts, copied as given. The result must survive strict JSON (no NaN or
    infinity); otherwise a ValueError names the section.
    """
    report: dict[str, Any] = {
        "meta": dict(meta or {}),
        "translation": _translation_section(translation_base, translation_tuned, comet_base, comet_tuned),
        "retention": retention if retention is not None else {"available": False, "reason": "retention benchmarks were not run"},
        "rationales": dict(rationale_stats or {}),
        "training": dict(training or {}),
        "timings": dict(timings or {}),
    }
    for section, value in report.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise ValueError(f"report section {section!r} is not JSON-serialisable: {err}") from None
    return report


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "—" if not math.isfinite(value) else f"{value:.{digits}f}"
    if isinstance(value, list) and len(value) > 6:
        # Long series (the loss curve) belong in the JSON report and the dashboard, not a table cell.
        ends = [_fmt(v, digits) for v in (value[0], value[-1])]
        return _cell(f"{len(value)} values: {ends[0]} … {ends[1]}")
    if isinstance(value, (dict, list)):
        return _cell(json.dumps(value, ensure_ascii=False))
    return _cell(str(value))


def _signed(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:+.{digits}f}"


def _interval(row: dict[str, Any], digits: int = 2) -> str:
    """ "[low, high] | reading" cells of a row carrying an ``interval`` dict (empty cells without one)."""
    iv = row.get("interval")
    if not isinstance(iv, dict):
        return " | "
    return f"[{iv['low']:+.{digits}f}, {iv['high']:+.{digits}f}] | {iv['verdict']}"


def _cell(text: str) -> str:
    # A pipe or newline inside a cell would break the Markdown table.
    return text.replace("|", "\\|").replace("\n", " ")


def _key_value_table(title: str, data: dict[str, Any], digits: int = 4) -> list[str]:
    if not data:
        return []
    lines = [f"## {title}", "", "| | |", "|---|---|"]
    lines += [f"| {_cell(str(k))} | {_fmt(v, digits)} |" for k, v in data.items()]
    return lines + [""]


def render_markdown(report: dict[str, Any]) -> str:
    """Readable Markdown of a :func:`build_report` dict: translation and retention tables, then the rest."""
    lines = ["# RaDis evaluation report", ""]
    meta = report.get("meta") or {}
    if meta:
        lines += [", ".join(f"**{_cell(str(k))}**: {_fmt(v)}" for k, v in meta.items()), ""]

    tr = report["translation"]
    lines += [
        f"## Translation ({tr['n']} held-out pair{'s' if tr['n'] != 1 else ''})",
        "",
        "| Metric | Base | Tuned | Δ | 95 % interval of Δ | Reading |",
        "|---|---:|---:|---:|---|---|",
    ]
    directions = tr.get("directions") or {}
    for key, label in _TRANSLATION_METRICS:
        m = tr[key]
        scope = " (mean over directions)" if len(directions) > 1 else ""
        lines.append(f"| {label}{scope} | {_fmt(m['base'])} | {_fmt(m['tuned'])} | {_signed(m['delta'])} | {_interval(m)} |")
        if len(directions) > 1:
            for name, row in directions.items():
                d = row[key]
                lines.append(
                    f"| {label} {_cell(name)} (n={row['n']}) | {_fmt(d['base'])} | {_fmt(d['tuned'])} | {_signed(d['delta'])} | {_interval(d)} |"
                )
    ph = tr.get("placeholders") or {}
    if ph.get("available"):
        lines.append(
            f"| Placeholders kept (n={ph['n']}) | {_fmt(ph['base'], 3)} | {_fmt(ph['tuned'], 3)} | {_signed(ph['delta'], 3)} | {_interval(ph, 3)} |"
        )
    comet = tr["comet"]
    if comet["available"]:
        lines.append(
            f"| COMET | {_fmt(comet['base']['score'], 4)} | {_fmt(comet['tuned']['score'], 4)} | {_signed(comet['delta'], 4)} | {_interval(comet, 4)} |"
        )
    lines.append("")
    if not comet["available"]:
        reason = next((c.get("reason") for c in (comet["base"], comet["tuned"]) if not c.get("available")), None)
        lines += [f"COMET: not available ({_cell(str(reason))}).", ""]
    for key, label in _TRANSLATION_METRICS:
        if tr[key].get("signature"):
            lines.append(f"{label} signature: `{tr[key]['signature']}`  ")
    lines += [f"Note: {_cell(n)}  " for n in tr.get("notes", [])]
    lines.append("")

    ret = report["retention"]
    lines += ["## General-ability retention", ""]
    if "benchmarks" not in ret:
        lines += [f"Not run ({_cell(str(ret.get('reason', 'no reason given')))}).", ""]
    else:
        lines += [
            "| Benchmark | Metric | N | Base | Tuned | 95 % interval of Δ | Reading | Retention | Formula |",
            "|---|---|---:|---:|---:|---|---|---:|---|",
        ]
        for name, row in ret["benchmarks"].items():
            retention = row["retention"]
            shown = _fmt(retention, 3) if retention != "n/a" else f"n/a ({_cell(row.get('reason', ''))})"
            lines.append(
                f"| {name} | {_cell(row['metric'])} | {_fmt(row.get('n'))} | {_fmt(row['base'], 3)} | {_fmt(row['tuned'], 3)} "
                f"| {_interval(row, 3)} | {shown} | {_cell(row.get('formula', ''))} |"
            )
            if name == "ifeval" and "instruction_level_accuracy" in row:
                ila = row["instruction_level_accuracy"]
                lines.append(
                    f"| ifeval | instruction-level accuracy | | {_fmt(ila['base'], 3)} | {_fmt(ila['tuned'], 3)} | | | | |"
                )
        overall = ret["overall"]
        lines += [
            "",
            f"**Overall retention**: {_fmt(overall['retention'], 3) if overall['retention'] != 'n/a' else 'n/a'}"
            f" — {_cell(overall.get('formula', ''))}",
        ]
        if overall.get("reason"):
            lines.append(f"({_cell(overall['reason'])})")
        for name, why in overall.get("excluded", {}).items():
            lines.append(f"- not counted: {name} — {_cell(why)}")
        if ret.get("min_retention") is not None:
            flag = "**BELOW** the minimum" if ret["below_min_retention"] else "meets the minimum"
            lines.append(f"\nMinimum retention {_fmt(ret['min_retention'], 3)}: {flag}.")
        lines.append("")

    generated = report.get("rationales") or {}
    # The section keeps its JSON name for every method; its title says what the teacher wrote.
    title = {"rewrite": "Teacher rewrites (SDFT)", "translation": "Teacher translations (SeqKD)"}.get(
        str(generated.get("kind")), "Rationales"
    )
    lines += _key_value_table(title, generated)
    lines += _key_value_table("Training", report.get("training") or {})
    lines += _key_value_table("Timings (s)", report.get("timings") or {}, digits=1)
    return "\n".join(lines).rstrip() + "\n"
