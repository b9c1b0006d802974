"""``radis-core compare`` and the comparison tables: methods vs base and vs supervised, with intervals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from radis_core.cli import app
from radis_core.comparison import compare_reports, render_comparison

from .conftest import make_pairs


def _report(base_hyps: list[str], tuned_hyps: list[str], base_pass: list[bool], tuned_pass: list[bool]) -> dict[str, Any]:
    refs = [f"the reference sentence number {i}" for i in range(len(base_hyps))]
    items = [
        {"direction": "de-en", "source": f"s{i}", "reference": r, "base": b, "tuned": t}
        for i, (r, b, t) in enumerate(zip(refs, base_hyps, tuned_hyps, strict=True))
    ]
    probe_items = [{"id": f"p{i}", "base": b, "tuned": t} for i, (b, t) in enumerate(zip(base_pass, tuned_pass, strict=True))]
    return {
        "translation": {
            "n": len(items),
            "items": items,
            "bleu": {"base": 1.0, "tuned": 2.0},
            "chrf": {"base": 3.0, "tuned": 4.0},
        },
        "retention": {"benchmarks": {"ifeval": {"base": 0.5, "items": probe_items}}, "overall": {"retention": 1.0}},
        "training": {"steps": 3},
        "timings": {"total_seconds": 10.0},
    }


N = 40
BASE = ["a sentence"] * N
GOOD = [f"the reference sentence number {i}" for i in range(N)]


def test_a_method_that_keeps_its_probes_beats_one_that_forgets_them() -> None:
    keeps = _report(BASE, GOOD, [True] * N, [True] * N)
    forgets = _report(BASE, GOOD, [True] * N, [i % 2 == 0 for i in range(N)])
    table = compare_reports({"radis": [keeps, keeps], "supervised": [forgets, forgets]})
    radis = table["methods"]["radis"]
    assert radis["vs_base"]["chrf"]["verdict"] == "better"  # both translate better than the base
    assert radis["vs_base"]["ifeval"]["verdict"] == "no measurable difference"
    assert table["methods"]["supervised"]["vs_base"]["ifeval"]["delta"] == -0.5
    vs = radis["vs_supervised"]
    assert vs["ifeval"]["delta"] == 0.5 and vs["ifeval"]["verdict"] == "better" and vs["ifeval"]["per_seed"] == [0.5, 0.5]
    assert vs["chrf"]["delta"] == 0.0 and vs["chrf"]["verdict"] == "no measurable difference"
    assert "vs_supervised" not in table["methods"]["supervised"]
    md = render_comparison(table)
    assert "| radis | " in md and "**better**" in md and "## Tuned − supervised (tuned)" in md
    # Both tables open with the same header: the method, BLEU, chrF++ and each probe's delta.
    assert md.splitlines().count("| Method | BLEU Δ | chrF++ Δ | ifeval Δ |") == 2


def test_runs_on_different_items_are_refused() -> None:
    a = _report(BASE, GOOD, [True] * N, [True] * N)
    b = _report(BASE[:-1], GOOD[:-1], [True] * (N - 1), [True] * (N - 1))
    with pytest.raises(ValueError, match="different held-out pairs"):
        compare_reports({"radis": [a], "supervised": [b]})
    with pytest.raises(ValueError, match="same number of seeds"):
        compare_reports({"radis": [a, a], "supervised": [a]})


@pytest.mark.slow
def test_compare_command_runs_every_method_and_seed_and_shares_the_base_evaluation(tiny_model_dir: Path, tmp_path: Path) -> None:
    pairs = make_pairs(20)
    train, valid = tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    for path, part in ((train, pairs[:14]), (valid, pairs[14:])):
        path.write_text(
            "".join(json.dumps({"source": p.source, "target": p.target, "src_lang": "de", "tgt_lang": "en"}) + "\n" for p in part)
        )
    out = tmp_path / "compare"
    args = ["compare", "--train", str(train), "--valid", str(valid), "--methods", "radis,supervised", "--seeds", "2"]
    args += ["--model", str(tiny_model_dir), "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"]
    args += [
        "--hp",
        "max_steps=2",
        "--hp",
        "batch_size=4",
        "--set",
        "rationale.min_rationale_share=0",
        "--set",
        "rationale.max_new_tokens=8",
    ]
    args += ["--set", "evaluation.max_probe_items=2", "--set", "evaluation.max_new_tokens=6"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        "radis-seed42",
        "radis-seed43",
        "supervised-seed42",
        "supervised-seed43",
    ]
    reports = [
        json.loads((out / d / "report.json").read_text())
        for d in ("radis-seed42", "supervised-seed42", "radis-seed43", "supervised-seed43")
    ]
    # The first job computed the base evaluation; the three others reused it.
    assert [r["meta"]["base_evaluation"].startswith("reused") for r in reports] == [False, True, True, True]
    table = json.loads((out / "comparison.json").read_text())
    assert table["seeds"] == 2 and table["eval_pairs"] == 6
    assert set(table["methods"]) == {"radis", "supervised"}
    assert {"bleu", "chrf", "ifeval", "math", "safety", "drift"} <= set(table["methods"]["radis"]["vs_supervised"])
    assert len(table["methods"]["radis"]["vs_base"]["chrf"]["per_seed"]) == 2
    assert "# Method comparison" in (out / "comparison.md").read_text()
