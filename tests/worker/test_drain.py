"""A worker shutting down hands its job back (worker/drain.py, worker/runner.py): in process with the tiny
model, and the process plumbing (children found from /proc, a child that dies with its parent).

The same path through real Celery workers and ``radis worker``: tests/faults/test_process_lifecycle.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.artifacts import ArtifactStore
from store.db import session_scope
from store.events import list_checkpoints
from store.settings import Settings
from worker.drain import child_pids
from worker.queue import JobQueue
from worker.runner import process_job

from .conftest import event_messages, job_events, load_job

pytestmark = pytest.mark.timeout(300)

QUICK = {"method": "supervised", "method_settings": {"evaluation": {"retention": False}}}


def _steps_recorded(factory: sessionmaker[Session], job_id: str) -> list[int]:
    return [e.data["step"] for e in job_events(factory, job_id) if e.type == "metrics" and e.data and "train_loss" in e.data]


def test_a_draining_worker_checkpoints_hands_the_job_back_and_the_next_worker_resumes_it(
    factory: sessionmaker[Session], artifacts: ArtifactStore, worker_settings: Settings, make_job
) -> None:
    # 30 steps, no periodic checkpoint: the only checkpoint is the one the drain writes.
    job_id = make_job(hyperparameters={"n_epochs": 10, "checkpoint_every": 1000}, **QUICK)
    sent: list[str] = []
    queue = JobQueue(factory, send=sent.append)

    def draining() -> bool:  # the worker is told to stop once two steps are in the store
        return len(_steps_recorded(factory, job_id)) >= 2

    outcome = process_job(factory, artifacts, worker_settings, job_id, "worker-a", drain=draining, queue=queue)

    assert outcome == "handed_back"
    assert sent == [job_id]  # sent again at once: no stale wait
    job = load_job(factory, job_id)
    assert (job.status, job.worker_id, job.heartbeat_at, job.attempts) == ("queued", None, None, 0)
    steps = _steps_recorded(factory, job_id)
    stopped_at = steps[-1]
    assert steps == list(range(1, stopped_at + 1)) and stopped_at < 30
    with session_scope(factory) as session:
        checkpoints, _ = list_checkpoints(session, job_id)
    assert [c.step for c in checkpoints] == [stopped_at]  # the step it finished, kept
    assert event_messages(factory, job_id)[-1] == "Job returned to the queue: worker worker-a is shutting down"

    assert process_job(factory, artifacts, worker_settings, job_id, "worker-b", queue=queue) == "succeeded"
    job = load_job(factory, job_id)
    assert (job.status, job.worker_id, job.attempts) == ("succeeded", "worker-b", 1)
    assert f"Resumed from checkpoint at step {stopped_at}" in event_messages(factory, job_id)
    assert _steps_recorded(factory, job_id) == list(range(1, 31))  # every step once: none repeated, none skipped


def test_a_worker_already_shutting_down_claims_nothing_and_sends_the_job_on(
    factory: sessionmaker[Session], artifacts: ArtifactStore, worker_settings: Settings, make_job
) -> None:
    job_id = make_job(**QUICK)
    sent: list[str] = []
    queue = JobQueue(factory, send=sent.append)
    outcome = process_job(factory, artifacts, worker_settings, job_id, "worker-a", drain=lambda: True, queue=queue)
    assert outcome == "handed_back" and sent == [job_id]
    job = load_job(factory, job_id)
    assert (job.status, job.attempts) == ("queued", 0)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped yet does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def test_child_pids_lists_the_live_children() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert child.pid in child_pids(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert child.pid not in child_pids(os.getpid())


GRANDPARENT = """
import os, signal, subprocess, sys, time
from worker.drain import die_with_parent
me = os.getpid()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], preexec_fn=lambda: die_with_parent(signal.SIGTERM, me))
print(child.pid, flush=True)
time.sleep(120)
"""


def test_a_child_started_with_die_with_parent_ends_when_its_parent_is_sigkilled(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", GRANDPARENT], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2]
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 30
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the child outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
