"""Pause and resume with the tiny model: the pause takes effect at the next step with a checkpoint, the job
waits ``paused``, and after a resume another worker finishes it with every step recorded once."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import jobs as store_jobs
from store.artifacts import ArtifactStore
from store.db import session_scope
from store.events import list_checkpoints
from store.settings import Settings
from worker.runner import process_job

from .conftest import event_messages, job_events, load_job

pytestmark = pytest.mark.timeout(300)

QUICK = {"method": "supervised", "method_settings": {"evaluation": {"retention": False}}}


def _steps_recorded(factory: sessionmaker[Session], job_id: str) -> list[int]:
    return [e.data["step"] for e in job_events(factory, job_id) if e.type == "metrics" and e.data and "train_loss" in e.data]


def test_pause_stops_at_a_checkpoint_and_resume_finishes_on_another_worker_with_every_step_once(
    factory: sessionmaker[Session], artifacts: ArtifactStore, worker_settings: Settings, make_job
) -> None:
    # 30 steps, no periodic checkpoint: the only checkpoint is the one the pause writes.
    job_id = make_job(hyperparameters={"n_epochs": 10, "checkpoint_every": 1000}, **QUICK)
    project_id = load_job(factory, job_id).project_id

    def pause_after_two_steps() -> bool:
        # The drain check runs before every step: a hook to ask for the pause (as the API does) at a known point.
        if len(_steps_recorded(factory, job_id)) >= 2:
            with session_scope(factory) as session:
                store_jobs.request_pause(session, project_id, job_id)
        return False

    outcome = process_job(factory, artifacts, worker_settings, job_id, "worker-a", cancel_poll_s=0.0, drain=pause_after_two_steps)

    assert outcome == "paused"
    job = load_job(factory, job_id)
    assert (job.status, job.worker_id, job.pause_requested, job.attempts) == ("paused", None, False, 0)
    steps = _steps_recorded(factory, job_id)
    stopped_at = steps[-1]
    assert steps == list(range(1, stopped_at + 1)) and stopped_at < 30
    with session_scope(factory) as session:
        checkpoints, _ = list_checkpoints(session, job_id)
    assert [c.step for c in checkpoints] == [stopped_at]  # written by the pause
    assert artifacts.path(f"jobs/{job_id}").exists()  # a paused job keeps its folder
    assert event_messages(factory, job_id)[-1] == "Job paused"
    # A delivery while paused claims nothing.
    assert process_job(factory, artifacts, worker_settings, job_id, "worker-b") == "skipped"

    with session_scope(factory) as session:
        _, enqueue = store_jobs.resume_job(session, project_id, job_id)
    assert enqueue
    assert process_job(factory, artifacts, worker_settings, job_id, "worker-b") == "succeeded"
    job = load_job(factory, job_id)
    assert (job.status, job.worker_id, job.attempts) == ("succeeded", "worker-b", 1)
    assert f"Resumed from checkpoint at step {stopped_at}" in event_messages(factory, job_id)
    assert _steps_recorded(factory, job_id) == list(range(1, 31))  # every step once: none repeated, none skipped
