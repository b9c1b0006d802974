"""The benchmark commands still run: generation and training at toy sizes on the tiny model.

They are called in-process (the tiny model is built once under the temp folder, about a second; the
training one is marked slow) and only their shape is checked: the last line names the figure and, for generation, that batched and
one-by-one greedy decoding agree. Timings are never asserted here; BENCHMARKS.md holds the figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(autouse=True, scope="module")
def bench_on_path():
    sys.path.insert(0, str(BENCH))
    yield
    sys.path.remove(str(BENCH))


def last_line(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_generation_bench_runs_and_checks_identical_outputs(capsys):
    import generation

    assert generation.main(["--model", "tiny", "--pairs", "3", "--batch", "3", "--max-new-tokens", "4"]) == 0
    line = last_line(capsys)
    assert line.startswith("generation: batched ") and "identical greedy outputs 3/3" in line


@pytest.mark.slow
def test_training_bench_runs_and_reports_padding_and_ratio(capsys):
    import training

    assert (
        training.main(
            [
                "--model",
                "tiny",
                "--examples",
                "8",
                "--steps",
                "2",
                "--batch",
                "2",
                "--max-seq-len",
                "512",
                "--checkpoint-every",
                "1",
            ]
        )
        == 0
    )
    line = last_line(capsys)
    assert line.startswith("training: padding ") and "raw fwd+bwd" in line


def test_generation_bench_takes_a_dtype(capsys):
    import generation

    argv = ["--model", "tiny", "--pairs", "2", "--batch", "2", "--max-new-tokens", "3", "--dtype", "bfloat16"]
    assert generation.main(argv) == 0
    assert last_line(capsys).endswith("(bfloat16)")


@pytest.mark.slow
def test_dtype_bench_runs_both_jobs_and_compares_them(capsys, tmp_path):
    import json

    import dtype

    argv = ["--model", "tiny", "--pairs", "8", "--eval-pairs", "4", "--probe-items", "2", "--max-new-tokens", "8"]
    argv += ["--min-rationale-share", "0", "--no-retention"]
    assert dtype.main([*argv, "--agree-prompts", "3", "--agree-tokens", "4", "--out", str(tmp_path)]) == 0
    line = last_line(capsys)
    assert line.startswith("dtype: auto=") and "batched greedy = one-at-a-time" in line and "(float32 3/3)" in line
    result = json.loads((tmp_path / "dtype.json").read_text())
    jobs = result["jobs"]
    assert jobs["float32"]["dtype"] == "float32" and len(jobs) in (2, 3)
    assert jobs["auto"]["dtype_reason"].startswith("auto: ")
    assert "bfloat16" in {j["dtype"] for j in jobs.values()}  # auto, or bf16 forced where auto is fp32
    assert (tmp_path / "comparison.md").read_text().strip() and result["cpu"]
