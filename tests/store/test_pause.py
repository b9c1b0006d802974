"""Pause and resume as store transitions on migrated Postgres: only the owner marks a job paused, a cancel
wins over a pause, a paused job is not claimable until resumed, and a finished job neither pauses nor resumes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from store.errors import InvalidTransition, LostOwnership
from store.jobs import (
    claim_job,
    count_active_jobs,
    mark_paused,
    mark_succeeded,
    request_cancel,
    request_pause,
    resume_job,
)
from store.models import Job, Project


def test_only_the_owner_marks_a_job_paused_and_a_paused_job_is_claimed_only_after_a_resume(
    db_session: Session, project: Project, make_job: Callable[..., Job]
) -> None:
    job = make_job()
    assert claim_job(db_session, job.id, "w1") is not None
    assert request_pause(db_session, project.id, job.id).pause_requested
    with pytest.raises(LostOwnership):
        mark_paused(db_session, job.id, "w2")
    paused = mark_paused(db_session, job.id, "w1")
    assert (paused.status, paused.worker_id, paused.pause_requested, paused.attempts) == ("paused", None, False, 0)
    assert count_active_jobs(db_session, project.id) == 1  # it keeps its place in the active-job limit
    assert claim_job(db_session, job.id, "w2") is None
    resumed, enqueue = resume_job(db_session, project.id, job.id)
    assert (resumed.status, enqueue) == ("queued", True)
    assert claim_job(db_session, job.id, "w2") is not None


def test_a_cancel_wins_over_a_pause(db_session: Session, project: Project, make_job: Callable[..., Job]) -> None:
    job = make_job()
    claim_job(db_session, job.id, "w1")
    request_pause(db_session, project.id, job.id)
    request_cancel(db_session, project.id, job.id)
    assert mark_paused(db_session, job.id, "w1").status == "cancelled"


def test_a_finished_job_neither_pauses_nor_resumes(db_session: Session, project: Project, make_job: Callable[..., Job]) -> None:
    job = make_job()
    claim_job(db_session, job.id, "w1")
    mark_succeeded(db_session, job.id, "w1", fine_tuned_model="ft:x:radis:y", trained_tokens=1, result_files=[])
    with pytest.raises(InvalidTransition, match="succeeded"):
        request_pause(db_session, project.id, job.id)
    with pytest.raises(InvalidTransition, match="succeeded"):
        resume_job(db_session, project.id, job.id)
