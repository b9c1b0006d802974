"""JobReporter and Heartbeat against the real store, without running a model."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from radis_core.events import CheckpointSaved, Counted, StageStarted, StepDone, StepMetrics, TrainingStarted
from radis_core.settings import Hyperparameters, resolve
from store.artifacts import ArtifactStore
from store.db import session_scope
from store.events import list_checkpoints
from store.ids import utcnow
from store.jobs import claim_job, request_cancel, take_over_stale
from worker.progress import Heartbeat, JobReporter, OwnershipLost, json_safe

from .conftest import job_events, load_job

pytestmark = pytest.mark.timeout(60)


def _wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _metrics(step: int, total: int, *, loss: float = 1.0) -> StepMetrics:
    return StepMetrics(
        step=step,
        total_steps=total,
        train_loss=loss,
        learning_rate=1e-4,
        tokens_per_second=100.0,
        step_seconds=0.1,
        eta_seconds=float(total - step),
    )


@pytest.fixture
def claimed_job(factory: sessionmaker[Session], make_job) -> str:
    job_id = make_job(method="supervised")
    with session_scope(factory) as session:
        assert claim_job(session, job_id, "worker-a") is not None
    return job_id


def _reporter(factory: sessionmaker[Session], artifacts: ArtifactStore, job_id: str, **kw) -> JobReporter:
    return JobReporter(factory, artifacts, job_id=job_id, worker_id="worker-a", method="supervised", keep_checkpoints=2, **kw)


def test_heartbeat_proves_liveness_sees_cancel_and_stops_when_the_job_is_taken_over(
    factory: sessionmaker[Session], artifacts: ArtifactStore, claimed_job: str
) -> None:
    reporter = _reporter(factory, artifacts, claimed_job, cancel_poll_s=60)
    first_beat = load_job(factory, claimed_job).heartbeat_at
    heartbeat = Heartbeat(reporter, interval_s=0.1)
    heartbeat.start()
    try:
        _wait_for(lambda: load_job(factory, claimed_job).heartbeat_at > first_beat)

        with session_scope(factory) as session:
            request_cancel(session, load_job(factory, claimed_job).project_id, claimed_job)
        # The thread's beat reads the flag; the pipeline's check needs no database read of its own.
        _wait_for(lambda: reporter.cancel_requested)
        assert reporter.should_cancel() is True

        with session_scope(factory) as session:
            assert take_over_stale(session, claimed_job, "worker-b", stale_before=utcnow().replace(year=2100))
        _wait_for(lambda: reporter.lost)
        heartbeat.join(timeout=5)
        assert not heartbeat.is_alive()
    finally:
        heartbeat.stop()

    with pytest.raises(OwnershipLost):
        reporter.should_cancel()
    with pytest.raises(OwnershipLost):
        reporter.on_event(StepDone(_metrics(1, 2)))
    assert load_job(factory, claimed_job).worker_id == "worker-b"


def test_metrics_are_batched_but_none_is_lost_and_progress_follows_the_stage(
    factory: sessionmaker[Session], artifacts: ArtifactStore, claimed_job: str
) -> None:
    reporter = _reporter(factory, artifacts, claimed_job)
    total = 40
    hp = resolve(Hyperparameters(batch_size=4, max_steps=total), n_examples=8)
    reporter.on_event(TrainingStarted(hp, {"examples": 8}))
    assert load_job(factory, claimed_job).resolved_hyperparameters == hp.to_dict()

    def step(i: int) -> None:
        reporter.on_event(StepDone(_metrics(i, total, loss=1.0 / i)))

    for i in range(1, total // 2 + 1):
        step(i)
    written = [e for e in job_events(factory, claimed_job) if e.type == "metrics"]
    assert len(written) < total // 2  # a burst of events is written in few transactions

    reporter.flush()
    job = load_job(factory, claimed_job)
    assert [e.data["step"] for e in job_events(factory, claimed_job) if e.type == "metrics"] == list(range(1, total // 2 + 1))
    # Supervised training spans 0–0.8 of the run: half the steps is 0.4.
    assert job.stage == "training" and math.isclose(job.progress, 0.4)
    assert job.estimated_finish is not None and job.estimated_finish > utcnow()

    for i in range(total // 2 + 1, total + 1):
        step(i)
    # The stage's last step is written at once, without a flush.
    steps = [e.data["step"] for e in job_events(factory, claimed_job) if e.type == "metrics"]
    assert steps == list(range(1, total + 1))
    assert math.isclose(load_job(factory, claimed_job).progress, 0.8)

    # A new stage writes immediately and only moves progress forward.
    reporter.on_event(StageStarted("evaluating", "Evaluating the base and the tuned model"))
    job = load_job(factory, claimed_job)
    assert job.stage == "evaluating" and math.isclose(job.progress, 0.8)


def test_checkpoint_events_become_checkpoint_rows_pruned_like_the_folders(
    factory: sessionmaker[Session], artifacts: ArtifactStore, claimed_job: str
) -> None:
    reporter = _reporter(factory, artifacts, claimed_job)
    reporter.on_event(TrainingStarted(resolve(Hyperparameters(batch_size=1, max_steps=3), n_examples=3), {"examples": 3}))
    for step in (1, 2, 3):
        folder = artifacts.job_dir(claimed_job) / "work" / "checkpoints" / f"step-{step:08d}"
        folder.mkdir(parents=True)
        reporter.on_event(CheckpointSaved(step, folder, _metrics(step, 3, loss=float("nan"))))
    # A resumed attempt saving a step that is already recorded adds no second row.
    reporter.on_event(CheckpointSaved(3, folder, _metrics(3, 3)))

    with session_scope(factory) as session:
        rows, _ = list_checkpoints(session, claimed_job)
    assert [(r.step, r.storage_key) for r in rows] == [
        (3, f"jobs/{claimed_job}/work/checkpoints/step-00000003"),
        (2, f"jobs/{claimed_job}/work/checkpoints/step-00000002"),
    ]
    assert rows[0].metrics["train_loss"] is None  # NaN is not JSON
    saved = [e for e in job_events(factory, claimed_job) if e.message.startswith("Checkpoint saved")]
    assert len(saved) == 4 and all("path" not in e.data and e.data["storage_key"].startswith("jobs/") for e in saved)


def test_steps_trained_again_after_a_resume_get_no_second_event(
    factory: sessionmaker[Session], artifacts: ArtifactStore, claimed_job: str
) -> None:
    """Worker A reports steps 1-3 and dies after the step-1 checkpoint; worker B resumes from it and
    trains steps 2-4: the loss curve has one point per step (the first report of a step stays)."""
    first = _reporter(factory, artifacts, claimed_job)
    for step in (1, 2, 3):
        first.on_event(StepDone(_metrics(step, 4, loss=1.0)))
    first.flush()
    with session_scope(factory) as session:
        assert take_over_stale(session, claimed_job, "worker-b", stale_before=utcnow().replace(year=2100)) is not None
    second = JobReporter(factory, artifacts, job_id=claimed_job, worker_id="worker-b", method="supervised", keep_checkpoints=2)
    for step in (2, 3, 4):
        second.on_event(StepDone(_metrics(step, 4, loss=0.5)))
    second.flush()

    steps = [(e.data["step"], e.data["train_loss"], e.step) for e in job_events(factory, claimed_job) if e.type == "metrics"]
    assert steps == [(1, 1.0, 1), (2, 1.0, 2), (3, 1.0, 3), (4, 0.5, 4)]


def test_json_safe_replaces_what_json_columns_refuse() -> None:
    from pathlib import Path

    assert json_safe({"a": float("inf"), "b": [1, float("nan"), Path("/x")], 3: (True, None)}) == {
        "a": None,
        "b": [1, None, "/x"],
        "3": [True, None],
    }


def test_the_reporter_counts_generated_and_trained_tokens_over_attempts_and_records_them_with_the_heartbeat(
    factory: sessionmaker[Session], artifacts: ArtifactStore, claimed_job: str
) -> None:
    reporter = _reporter(factory, artifacts, claimed_job, tokens_used_before=100)  # an earlier attempt's

    def generated(done: int, new_tokens: int) -> Counted:
        return Counted("generating_targets", f"Targets {done}/4", done, 4, {"new_tokens": new_tokens})

    # One generation call reports its running total; a count lower than the last is a second call's (its
    # first report may be after a batch, when the call's opening report of zero was not seen).
    for event in (generated(0, 0), generated(2, 30), generated(4, 70), generated(2, 25)):
        reporter.on_event(event)
    reporter.on_event(StepDone(dataclasses.replace(_metrics(1, 2), step_tokens=40)))
    assert reporter.tokens_used() == 100 + 70 + 25 + 40
    reporter.beat()
    assert load_job(factory, claimed_job).tokens_used == 235
