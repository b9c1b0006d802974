"""Duplicate finding: the same answer as a plain dict, in a fraction of its memory."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from radis_core.corpus import CorpusLimits, Problem, approx_token_count, iter_records, load_corpus, validate_corpus
from tests.radis_core.corpus.helpers import REPO_ROOT, jl


def _reference_report(
    path: Path, max_tokens: int, cap: int
) -> tuple[list[tuple[str, int | None, str]], list[int], dict[str, int], bool]:
    """What validation must report, computed the plain way: every pair checked against a dict on arrival."""
    problems: list[Problem] = []
    first_line_of: dict[str, int] = {}
    kept: list[int] = []
    per_language: dict[str, int] = {}
    for record in iter_records(path):
        problems += record.problems
        pair = record.pair
        if pair is None:
            continue
        if approx_token_count(pair.source) + approx_token_count(pair.target) > max_tokens:
            problems.append(Problem("too_long", pair.line, ""))
            continue
        first = first_line_of.setdefault(pair.pair_hash, pair.line)
        if first != pair.line:
            problems.append(Problem("duplicate", pair.line, f"line {pair.line}: duplicate of line {first}", severity="warning"))
            continue
        kept.append(pair.line)
        key = f"{pair.src_lang}-{pair.tgt_lang}"
        per_language[key] = per_language.get(key, 0) + 1
    first_error = next((p for p in problems if p.severity == "error"), None)
    late_first_error = first_error is not None and all(p is not first_error for p in problems[:cap])
    stored = problems[:cap] + ([first_error] if late_first_error else [])
    shown = [(p.code, p.line, p.message if p.code == "duplicate" else "") for p in stored]
    return shown, kept, per_language, len(stored) < len(problems)


@pytest.mark.parametrize("cap", [5, 1000, 100_000])
def test_duplicates_across_a_large_corpus_keep_their_lines_order_and_cap(tmp_path: Path, cap: int) -> None:
    rng = random.Random(5)
    path = tmp_path / "dups.jsonl"
    lines = []
    for i in range(30_000):  # several batches of the duplicate finder, with repeats reaching far back
        roll = rng.random()
        if roll < 0.15:
            j = rng.randrange(max(1, i // 3)) if rng.random() < 0.5 else rng.randrange(max(1, i - 50), max(2, i))
            lines.append(jl(source=f"Satz {j}", target=f"Sentence {j}", src_lang="de", tgt_lang="en"))
        elif roll < 0.17:
            lines.append("{oops\n")
        elif roll < 0.18:
            lines.append(jl(source=f"Satz {i} " + "lang " * 60, target="long", src_lang="de", tgt_lang="en"))
        elif roll < 0.19:
            lines.append(jl(source=f"Phrase {i % 500}", target=f"Sentence {i % 500}", src_lang="fr", tgt_lang="en"))
        else:
            lines.append(jl(source=f"Satz {i}", target=f"Sentence {i}", src_lang="de", tgt_lang="en"))
    path.write_text("".join(lines), encoding="utf-8")
    shown, kept, per_language, truncated = _reference_report(path, max_tokens=64, cap=cap)
    assert sum(code == "duplicate" for code, _, _ in shown) > min(cap, 1000) // 2  # the test does test duplicates

    limits = CorpusLimits(max_tokens=64, max_problems=cap, min_examples=1)
    pairs, report = load_corpus(path, limits=limits)
    assert [(p.code, p.line, p.message if p.code == "duplicate" else "") for p in report.problems[: len(shown)]] == shown
    assert [p.code for p in report.problems[len(shown) :]] == ["mixed_language_pairs"]
    assert [p.line for p in pairs] == kept and report.n_pairs == len(kept)
    assert report.language_pairs == per_language and report.truncated is truncated
    assert all(p.excerpt.startswith("Satz ") or p.excerpt.startswith("Phrase ") for p in report.problems if p.code == "duplicate")
    again = validate_corpus(path, limits=limits)
    assert again.to_dict() == report.to_dict()


_PEAK_MEMORY_PROBE = """
import json, sys
from radis_core.corpus import validate_corpus
import numpy
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
base = status("VmRSS:")
report = validate_corpus(sys.argv[1])
print(json.dumps({"n_pairs": report.n_pairs, "peak": status("VmHWM:") - base}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_duplicate_detection_memory_per_pair_is_small(tmp_path: Path) -> None:
    path = tmp_path / "distinct.jsonl"
    row = '{"source": "Satz Nummer %d ist hier.", "target": "Sentence number %d is here.", "src_lang": "de", "tgt_lang": "en"}\n'
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(row % (i, i) for i in range(150_000))
    # A fresh process: its peak RSS over the baseline after imports is what validating added.
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_MEMORY_PROBE, str(path)], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    measured = json.loads(result.stdout)
    assert measured["n_pairs"] == 150_000
    # A dict entry per pair (a hex digest and a line) took ~190 bytes a pair: +28 MB here.
    assert measured["peak"] < 16 << 20, f"peak +{measured['peak'] / 2**20:.1f} MiB validating 150k distinct pairs"
