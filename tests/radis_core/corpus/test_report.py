"""The report: the problem cap, its counts, its dict and summary, and the declared codes."""

from __future__ import annotations

import json
from pathlib import Path

from radis_core.corpus import PROBLEM_CODES, CorpusLimits, validate_corpus
from tests.radis_core.corpus.helpers import jl, write


def test_problem_cap_keeps_counting_and_keeps_first_error(tmp_path: Path) -> None:
    lines = [jl(source="Hallo", target="Hello", src_lang="de", tgt_lang="en")] * 30 + ["oops\n"] * 20
    report = validate_corpus(write(tmp_path, "c.jsonl", "".join(lines)), limits=CorpusLimits(min_examples=1, max_problems=10))
    assert report.truncated and report.n_warnings == 29 and report.n_errors == 20 and report.n_lines == 50
    assert len(report.problems) == 11  # 10 duplicates, then the first error despite the cap
    assert report.first_error is not None and report.first_error.line == 31
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and data["truncated"] is True and data["problems"][-1]["code"] == "not_json"
    assert "20 errors, 29 warnings" in report.summary() and "line 31" in report.summary()


def test_every_reported_code_is_declared(tmp_path: Path) -> None:
    report = validate_corpus(write(tmp_path, "c.jsonl", "x\n[]\n{}\n"), limits=CorpusLimits(min_examples=1))
    assert {p.code for p in report.problems} <= PROBLEM_CODES


def test_report_dict_shape_is_pinned(tmp_path: Path) -> None:
    # The API returns this dict to clients: its keys are a contract.
    report = validate_corpus(write(tmp_path, "c.jsonl", "oops\n"), limits=CorpusLimits(min_examples=0))
    data = report.to_dict()
    assert list(data) == [
        "format",
        "ok",
        "n_lines",
        "n_pairs",
        "n_errors",
        "n_warnings",
        "truncated",
        "language_pairs",
        "problems",
    ]
    assert list(data["problems"][0]) == ["code", "line", "message", "excerpt", "severity", "field"]
    assert data["problems"][0]["message"].startswith("line 1: not valid JSON")
