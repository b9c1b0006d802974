"""Read-only job queries: the project's job list, its fine-tuned models, counts by status, reconciler scans."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from store.errors import NotFound
from store.ids import utcnow
from store.job_queries import (
    count_jobs_by_status,
    fine_tuned_model,
    fine_tuned_models,
    list_jobs,
    queued_jobs_older_than,
    stale_running_jobs,
)
from store.jobs import claim_job, mark_enqueued, mark_succeeded
from store.models import Job, JobStatus, Project
from store.projects import create_project

from .conftest import add_file


def test_list_jobs_newest_first_with_cursor_and_metadata(
    db_session: Session, project: Project, make_job: Callable[..., Job]
) -> None:
    jobs = [make_job(metadata={"team": "mt" if i % 2 else "qa", "n": str(i)}) for i in range(5)]
    base = utcnow()
    for i, job in enumerate(jobs):
        job.created_at = base + timedelta(seconds=i)
    db_session.flush()
    other = create_project(db_session, "other")
    make_job(project_id=other.id, training_file_id=add_file(db_session, other.id).id)

    page1, more1 = list_jobs(db_session, project.id, limit=3)
    page2, more2 = list_jobs(db_session, project.id, after=page1[-1].id, limit=3)
    assert [j.id for j in page1 + page2] == [j.id for j in reversed(jobs)]
    assert (more1, more2) == (True, False)

    mt, _ = list_jobs(db_session, project.id, metadata_filter={"team": "mt"})
    assert [j.id for j in mt] == [jobs[3].id, jobs[1].id]
    assert [j.id for j in list_jobs(db_session, project.id, metadata_filter={"team": "mt", "n": "1"})[0]] == [jobs[1].id]
    assert list_jobs(db_session, project.id, metadata_filter={"team": "nobody"}) == ([], False)
    with pytest.raises(NotFound):
        list_jobs(db_session, other.id, after=jobs[0].id)


def test_enqueue_marks_and_reconciler_queries(db_session: Session, make_job: Callable[..., Job]) -> None:
    sent, lost, live = make_job(), make_job(), make_job()
    assert mark_enqueued(db_session, sent.id)
    assert claim_job(db_session, live.id, "w1") is not None
    assert not mark_enqueued(db_session, live.id)
    now = utcnow()

    mine = {sent.id, lost.id, live.id}
    old_queued = {j.id for j in queued_jobs_older_than(db_session, now + timedelta(seconds=1))} & mine
    assert old_queued == {sent.id, lost.id}
    assert not {j.id for j in queued_jobs_older_than(db_session, now - timedelta(hours=1))} & mine

    stale = {j.id for j in stale_running_jobs(db_session, now + timedelta(seconds=1))} & mine
    assert stale == {live.id}
    assert not {j.id for j in stale_running_jobs(db_session, now - timedelta(hours=1))} & mine


def _succeed(session: Session, job: Job, model: str) -> Job:
    assert claim_job(session, job.id, "w1") is not None
    return mark_succeeded(session, job.id, "w1", fine_tuned_model=model, trained_tokens=1, result_files=[])


def test_fine_tuned_models_are_the_projects_succeeded_jobs_newest_first(
    db_session: Session, project: Project, make_job: Callable[..., Job]
) -> None:
    first, second = _succeed(db_session, make_job(), "ft:a"), _succeed(db_session, make_job(), "ft:b")
    first.finished_at, second.finished_at = utcnow() - timedelta(minutes=1), utcnow()
    make_job()  # queued: no model yet
    other = create_project(db_session, "other")
    _succeed(db_session, make_job(project_id=other.id, training_file_id=add_file(db_session, other.id).id), "ft:c")
    db_session.flush()

    assert [j.fine_tuned_model for j in fine_tuned_models(db_session, project.id)] == ["ft:b", "ft:a"]
    found = fine_tuned_model(db_session, project.id, "ft:a")
    assert found is not None and found.id == first.id
    assert fine_tuned_model(db_session, project.id, "ft:c") is None  # another project's model
    assert fine_tuned_model(db_session, project.id, "ft:missing") is None


def test_count_jobs_by_status(db_session: Session, make_job: Callable[..., Job]) -> None:
    before = count_jobs_by_status(db_session)
    make_job(), make_job()
    _succeed(db_session, make_job(), "ft:x")
    after = count_jobs_by_status(db_session)
    assert after.get(JobStatus.QUEUED, 0) - before.get(JobStatus.QUEUED, 0) == 2
    assert after.get(JobStatus.SUCCEEDED, 0) - before.get(JobStatus.SUCCEEDED, 0) == 1
