"""Fault 6 (out of memory): a job that needs more memory than the worker has fails with
``out_of_memory`` and a message saying what to change, and the worker serves the next job.

The memory is really missing: :mod:`tests.faults.memory_capped_worker` caps its own address space
with ``resource.setrlimit(RLIMIT_AS)`` after loading its libraries, and the job's training batch (12
pairs of ~1,500 tokens each at ``max_seq_len`` 2,048: logits and activations of hundreds of MB) does
not fit in the headroom, so torch's allocator fails for real. (The NaN half of fault 6 is
``tests/worker/test_runner.py::test_a_diverging_run_fails_with_training_diverged``.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from radis_core.corpus import Pair, write_jsonl
from store.settings import Settings
from tests.worker.celery_harness import REPO_ROOT, worker_env
from tests.worker.conftest import load_job

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

#: Address space the capped worker may add to what it uses after loading its libraries.
HEADROOM_MB = 64


def long_pairs(n: int = 16) -> list[Pair]:
    words = ["Anna", "kauft", "Äpfel", "und", "Birnen", "auf", "dem", "Markt"]
    return [
        Pair(
            source=" ".join(words[(i + j) % len(words)] for j in range(250)) + f" {i}.",
            target=" ".join(["Anna buys apples"] * 80) + f" {i}.",
            src_lang="de",
            tgt_lang="en",
            line=i + 1,
        )
        for i in range(n)
    ]


def test_a_job_that_runs_out_of_memory_fails_clearly_and_the_worker_serves_the_next(
    factory: sessionmaker[Session], worker_settings: Settings, make_job, tmp_path: Path
) -> None:
    quick = {"method": "supervised", "method_settings": {"evaluation": {"retention": False}}}
    greedy = make_job(
        corpus=write_jsonl(long_pairs(), tmp_path / "long.jsonl").read_bytes(),
        hyperparameters={"batch_size": 12, "max_seq_len": 2048, "max_steps": 1},
        **quick,
    )
    following = make_job(hyperparameters={"max_steps": 1}, **quick)

    env = {**worker_env(worker_settings), "MALLOC_ARENA_MAX": "1"}  # one malloc arena: address space grows only with use
    run = subprocess.run(
        [sys.executable, "-m", "tests.faults.memory_capped_worker", str(HEADROOM_MB), greedy, following],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    outcomes = dict(line.split() for line in run.stdout.splitlines() if line.startswith("ftjob-"))
    assert run.returncode == 0, run.stderr[-4000:]
    assert outcomes == {greedy: "failed", following: "succeeded"}, run.stderr[-4000:]

    job = load_job(factory, greedy)
    assert job.status == "failed" and job.error_code == "out_of_memory", (job.error_code, job.error_message)
    assert "ran out of memory during training" in job.error_message
    assert "batch_size" in job.error_message and "max_seq_len" in job.error_message
    assert str(REPO_ROOT) not in job.error_message and "Traceback" not in job.error_message
    assert load_job(factory, following).status == "succeeded"
