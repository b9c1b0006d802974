"""The job state machine's details that a mutation run (scripts/mutation.sh) showed no test noticed: the
project filter of the active-job count, the progress bounds, each clause of the stale take-over, the
failure fields, the finish estimate, what each event carries, and the enqueue mark."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from store.events import list_events
from store.ids import utcnow
from store.jobs import (
    claim_job,
    count_active_jobs,
    get_job_any,
    mark_enqueued,
    mark_failed,
    mark_succeeded,
    release_job,
    request_cancel,
    set_progress,
    set_resolved_hyperparameters,
    set_stage,
    take_over_stale,
)
from store.models import File, Job, Project
from store.projects import create_project

from .conftest import add_file


def _events(session: Session, job_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(level, message, data) of each event, oldest first."""
    rows, _ = list_events(session, job_id, limit=100, order="asc")
    return [(row.level, row.message, row.data) for row in rows]


@pytest.fixture
def running(db_session: Session, make_job: Callable[..., Job]) -> Job:
    job = make_job()
    assert claim_job(db_session, job.id, "w1") is not None
    return job


def test_the_active_job_count_is_per_project_and_only_counts_active_jobs(
    db_session: Session, project: Project, make_job: Callable[..., Job]
) -> None:
    other = create_project(db_session, "other")
    other_file = add_file(db_session, other.id)
    make_job(project_id=other.id, training_file_id=other_file.id)
    make_job(project_id=other.id, training_file_id=other_file.id)
    assert count_active_jobs(db_session, project.id) == 0
    queued = make_job()
    make_job()
    assert count_active_jobs(db_session, project.id) == 2
    request_cancel(db_session, project.id, queued.id)
    assert (count_active_jobs(db_session, project.id), count_active_jobs(db_session, other.id)) == (1, 2)


def test_progress_takes_both_ends_of_the_range(db_session: Session, running: Job) -> None:
    assert set_progress(db_session, running.id, "w1", 0.0).progress == 0.0
    assert set_progress(db_session, running.id, "w1", 1.0).progress == 1.0
    assert set_stage(db_session, running.id, "w1", "training", 1.0).progress == 1.0
    for outside in (-0.01, 1.01):
        with pytest.raises(ValueError, match="progress: must be between 0 and 1"):
            set_progress(db_session, running.id, "w1", outside)


def test_progress_records_a_new_finish_estimate_and_keeps_the_last_one_without(db_session: Session, running: Job) -> None:
    eta = utcnow() + timedelta(minutes=7)
    assert set_progress(db_session, running.id, "w1", 0.2, estimated_finish=eta).estimated_finish == eta
    assert set_progress(db_session, running.id, "w1", 0.3).estimated_finish == eta
    later = eta + timedelta(minutes=1)
    assert set_progress(db_session, running.id, "w1", 0.4, estimated_finish=later).estimated_finish == later


def _set_heartbeat(session: Session, job_id: str, **values: Any) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(**values))


def test_a_running_job_that_never_sent_a_heartbeat_is_stale(db_session: Session, running: Job) -> None:
    _set_heartbeat(db_session, running.id, heartbeat_at=None)
    # A threshold long ago: only the missing heartbeat makes the job stale.
    taken = take_over_stale(db_session, running.id, "w2", stale_before=utcnow() - timedelta(days=1))
    assert taken is not None and taken.worker_id == "w2"


def test_a_heartbeat_exactly_at_the_threshold_is_not_stale(db_session: Session, running: Job) -> None:
    beat = utcnow() - timedelta(minutes=10)
    _set_heartbeat(db_session, running.id, heartbeat_at=beat)
    assert take_over_stale(db_session, running.id, "w2", stale_before=beat) is None
    assert get_job_any(db_session, running.id).worker_id == "w1"
    taken = take_over_stale(db_session, running.id, "w2", stale_before=beat + timedelta(microseconds=1))
    assert taken is not None and taken.worker_id == "w2"


def test_a_running_job_without_a_worker_can_be_taken_over(db_session: Session, running: Job) -> None:
    _set_heartbeat(db_session, running.id, worker_id=None)
    taken = take_over_stale(db_session, running.id, "w2", stale_before=utcnow() + timedelta(seconds=1))
    assert taken is not None and (taken.worker_id, taken.attempts) == ("w2", 2)
    level, message, data = _events(db_session, running.id)[-1]
    assert (level, data) == ("warn", {"previous_worker_id": None, "worker_id": "w2"})
    assert message == "Worker None stopped sending heartbeats; job taken over by w2 (attempt 2)"


def test_the_attempt_ceiling_records_the_whole_error(db_session: Session, running: Job) -> None:
    set_stage(db_session, running.id, "w1", "training", 0.5, estimated_finish=utcnow() + timedelta(hours=1))
    _set_heartbeat(db_session, running.id, attempts=3)
    assert take_over_stale(db_session, running.id, "w2", utcnow() + timedelta(seconds=1), max_attempts=3) is None
    job = get_job_any(db_session, running.id)
    message = "The job stopped its worker 3 times (limit 3); it is not retried"
    assert (job.status, job.error_code, job.error_message, job.error_param) == ("failed", "too_many_attempts", message, None)
    assert job.estimated_finish is None
    assert _events(db_session, running.id)[-1] == ("error", f"Job failed: {message}", {"code": "too_many_attempts"})


def test_the_ceiling_counts_attempts_from_the_limit_on(db_session: Session, running: Job) -> None:
    # 2 attempts under a limit of 3: taken over (the third attempt), not failed.
    _set_heartbeat(db_session, running.id, attempts=2)
    taken = take_over_stale(db_session, running.id, "w2", utcnow() + timedelta(seconds=1), max_attempts=3)
    assert taken is not None and (taken.status, taken.attempts) == ("running", 3)


def test_each_event_carries_its_level_and_data(db_session: Session, project: Project, running: Job) -> None:
    assert _events(db_session, running.id)[-1] == ("info", "Fine-tuning job started", {"worker_id": "w1"})
    set_stage(db_session, running.id, "w1", "training", 0.1)
    assert _events(db_session, running.id)[-1] == ("info", "Training", {"stage": "training"})
    set_resolved_hyperparameters(db_session, running.id, "w1", {"n_epochs": 2})
    assert _events(db_session, running.id)[-1] == ("info", "Resolved hyperparameters", {"n_epochs": 2})
    taken = take_over_stale(db_session, running.id, "w2", utcnow() + timedelta(seconds=1))
    assert taken is not None
    assert _events(db_session, running.id)[-1][::2] == ("warn", {"previous_worker_id": "w1", "worker_id": "w2"})
    release_job(db_session, running.id, "w2", "worker w2 is shutting down")
    assert _events(db_session, running.id)[-1] == (
        "warn",
        "Job returned to the queue: worker w2 is shutting down",
        {"worker_id": "w2"},
    )
    assert claim_job(db_session, running.id, "w3") is not None
    assert _events(db_session, running.id)[-1] == ("info", "Fine-tuning job started (attempt 2)", {"worker_id": "w3"})
    mark_failed(db_session, running.id, "w3", "out_of_memory", "The model did not fit", param="batch_size")
    assert _events(db_session, running.id)[-1] == (
        "error",
        "Job failed: The model did not fit",
        {"code": "out_of_memory", "param": "batch_size"},
    )
    assert get_job_any(db_session, running.id).error_param == "batch_size"


def test_success_events_name_the_model(db_session: Session, running: Job) -> None:
    mark_succeeded(db_session, running.id, "w1", fine_tuned_model="ft:tiny:x", trained_tokens=5, result_files=[])
    assert _events(db_session, running.id)[-2:] == [
        ("info", "New fine-tuned model created: ft:tiny:x", {"fine_tuned_model": "ft:tiny:x"}),
        ("info", "The job has successfully completed", None),
    ]


def test_mark_enqueued_only_marks_a_queued_job(
    db_session: Session, project: Project, training_file: File, make_job: Callable[..., Job]
) -> None:
    job = make_job()
    assert get_job_any(db_session, job.id).enqueued_at is None
    before = utcnow()
    assert mark_enqueued(db_session, job.id) is True
    enqueued_at = get_job_any(db_session, job.id).enqueued_at
    assert enqueued_at is not None and enqueued_at >= before
    assert claim_job(db_session, job.id, "w1") is not None
    assert mark_enqueued(db_session, job.id) is False
    assert get_job_any(db_session, job.id).enqueued_at == enqueued_at
    assert mark_enqueued(db_session, "ftjob-missing") is False
