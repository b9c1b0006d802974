"""Storage accounting and job usage (issue 13) on migrated Postgres: what counts, the default quota,
files in use, the clean-up of ended jobs, one event per training step."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.errors import FileInUse, QuotaExceeded
from store.events import add_event, recorded_steps
from store.files import delete_file
from store.jobs import claim_job, mark_failed, request_cancel
from store.models import Job, Project
from store.projects import create_project, job_token_budget, job_wall_time_s, set_limits
from store.usage import (
    active_jobs_using,
    cleanup_plan,
    jobs_to_clean,
    mark_cleaned,
    record_run_seconds,
    record_tokens_used,
    record_work_bytes,
    storage_usage,
)

from .conftest import add_file


def test_usage_counts_live_files_and_the_folders_of_jobs_not_cleaned(
    db_session: Session, project: Project, make_job: Callable[..., Job]
) -> None:
    other = create_project(db_session, "other")
    add_file(db_session, project.id, "a", nbytes=100)
    gone = add_file(db_session, project.id, "b", nbytes=50)
    add_file(db_session, other.id, "c", nbytes=7)
    delete_file(db_session, project.id, gone.id)
    job = make_job()
    assert claim_job(db_session, job.id, "w1") is not None
    assert record_work_bytes(db_session, job.id, "w1", 1000)
    assert not record_work_bytes(db_session, job.id, "not-the-owner", 5)  # only the owner writes

    used = storage_usage(db_session, project.id)
    # 100 + the fixture's 10-byte training file; the deleted file counts no more.
    assert (used.file_bytes, used.work_bytes, used.total) == (110, 1000, 1110)
    assert storage_usage(db_session, other.id).total == 7

    mark_failed(db_session, job.id, "w1", "internal_error", "boom")
    assert jobs_to_clean(db_session) == [job.id]
    assert storage_usage(db_session, project.id).work_bytes == 1000  # counted until its folder is removed
    assert mark_cleaned(db_session, job.id) and not mark_cleaned(db_session, job.id)
    assert storage_usage(db_session, project.id).total == 110
    assert jobs_to_clean(db_session) == []


def test_the_deployment_default_quota_applies_unless_the_project_sets_its_own(db_session: Session, project: Project) -> None:
    add_file(db_session, project.id, "a", nbytes=60, default_max_storage_bytes=100)
    with pytest.raises(QuotaExceeded) as caught:
        add_file(db_session, project.id, "b", nbytes=41, default_max_storage_bytes=100)
    assert (caught.value.limit, caught.value.current) == (100, 60)
    assert "the limit (max_storage_bytes_per_project) is 100 bytes" in str(caught.value)
    assert "delete files to make room" in str(caught.value)

    set_limits(db_session, project, max_storage_bytes=200)  # the project's own limit wins
    add_file(db_session, project.id, "b", nbytes=41, default_max_storage_bytes=100)
    with pytest.raises(QuotaExceeded) as caught:
        add_file(db_session, project.id, "c", nbytes=100, default_max_storage_bytes=100)
    assert "the limit (the project's max_storage_bytes) is 200 bytes" in str(caught.value)

    set_limits(db_session, project, max_storage_bytes=0)  # 0: no limit
    add_file(db_session, project.id, "d", nbytes=10**12, default_max_storage_bytes=100)
    with pytest.raises(ValueError, match="max_storage_bytes: must be >= 0"):
        set_limits(db_session, project, max_storage_bytes=-1)


def test_a_file_an_active_job_uses_cannot_be_deleted_until_the_job_ends(
    db_session: Session, project: Project, make_job: Callable[..., Job]
) -> None:
    train, valid, idle = (add_file(db_session, project.id, name) for name in ("t.jsonl", "v.jsonl", "i.jsonl"))
    queued = make_job(training_file_id=train.id, validation_file_id=valid.id)
    assert active_jobs_using(db_session, train.id) == [queued.id] == active_jobs_using(db_session, valid.id)
    delete_file(db_session, project.id, idle.id)  # nobody uses it

    for file_id in (train.id, valid.id):
        with pytest.raises(FileInUse) as caught:
            delete_file(db_session, project.id, file_id)
        assert caught.value.job_ids == [queued.id] and queued.id in str(caught.value)
    assert claim_job(db_session, queued.id, "w1") is not None
    with pytest.raises(FileInUse):  # running needs it too
        delete_file(db_session, project.id, train.id)
    mark_failed(db_session, queued.id, "w1", "internal_error", "boom")
    assert delete_file(db_session, project.id, train.id).deleted_at is not None

    cancelled = make_job(training_file_id=valid.id)
    request_cancel(db_session, project.id, cancelled.id)
    assert delete_file(db_session, project.id, valid.id).deleted_at is not None


def test_cleaning_an_ended_job_purges_a_deleted_input_no_active_job_needs(
    db_session: Session, project: Project, make_job: Callable[..., Job]
) -> None:
    train = add_file(db_session, project.id, "t.jsonl")
    first, second = make_job(training_file_id=train.id), make_job(training_file_id=train.id)
    train.deleted_at = first.created_at  # deleted while in use, as an older release allowed
    db_session.flush()
    assert cleanup_plan(db_session, first.id) is None  # not ended
    request_cancel(db_session, project.id, first.id)
    # The second job still needs the bytes: the folder goes, the blob stays.
    plan = cleanup_plan(db_session, first.id)
    assert plan is not None and plan.deleted_input_keys == []
    request_cancel(db_session, project.id, second.id)
    plan = cleanup_plan(db_session, second.id)
    assert plan is not None and plan.deleted_input_keys == [train.storage_key]
    mark_cleaned(db_session, second.id)
    assert cleanup_plan(db_session, second.id) is None


def test_run_seconds_and_the_wall_time_budget(db_session: Session, project: Project, make_job: Callable[..., Job]) -> None:
    assert job_wall_time_s(project, default=3600, ceiling=7200) == 3600
    assert job_wall_time_s(project, default=3600, ceiling=7200, requested=60) == 60
    assert job_wall_time_s(project, default=3600, ceiling=7200, requested=10**6) == 7200
    set_limits(db_session, project, job_wall_time_s=600)
    assert job_wall_time_s(project, default=3600, ceiling=7200) == 600
    with pytest.raises(ValueError, match="job_wall_time_s: must be >= 1"):
        set_limits(db_session, project, job_wall_time_s=0)

    job = make_job(wall_time_budget_s=120)
    assert (job.wall_time_budget_s, job.run_seconds, job.work_bytes) == (120, 0.0, 0)
    assert not record_run_seconds(db_session, job.id, "w1", 5.0)  # not running
    claim_job(db_session, job.id, "w1")
    assert record_run_seconds(db_session, job.id, "w1", 12.5)
    db_session.refresh(job)
    assert job.run_seconds == 12.5


def test_one_event_per_training_step(db_session: Session, make_job: Callable[..., Job]) -> None:
    job = make_job()
    for step in (1, 2, 3):
        add_event(db_session, job.id, f"Step {step}/4", type="metrics", data={"step": step}, step=step)
    add_event(db_session, job.id, "a message", type="message")
    add_event(db_session, job.id, "another message", type="message")  # events without a step are not limited
    assert recorded_steps(db_session, job.id, [2, 3, 4]) == {2, 3}
    assert recorded_steps(db_session, job.id, []) == set()
    with pytest.raises(IntegrityError), db_session.begin_nested():
        add_event(db_session, job.id, "Step 2/4 again", type="metrics", data={"step": 2}, step=2)


def test_tokens_used_and_the_token_budget(db_session: Session, project: Project, make_job: Callable[..., Job]) -> None:
    assert job_token_budget(project, default=10**9, ceiling=10**10) == 10**9
    assert job_token_budget(project, default=10**9, ceiling=10**10, requested=500) == 500
    assert job_token_budget(project, default=10**9, ceiling=10**10, requested=10**11) == 10**10
    set_limits(db_session, project, job_token_budget=50_000)
    assert job_token_budget(project, default=10**9, ceiling=10**10) == 50_000
    with pytest.raises(ValueError, match="job_token_budget: must be >= 1"):
        set_limits(db_session, project, job_token_budget=0)
    set_limits(db_session, project, job_token_budget=None)  # back to the deployment's default
    assert job_token_budget(project, default=10**9, ceiling=10**10) == 10**9

    job = make_job(token_budget=6_000_000_000)  # above 32 bits: the column is a BIGINT
    db_session.refresh(job)
    assert (job.token_budget, job.tokens_used) == (6_000_000_000, 0)
    assert not record_tokens_used(db_session, job.id, "w1", 7)  # not running
    claim_job(db_session, job.id, "w1")
    assert record_tokens_used(db_session, job.id, "w1", 5_000_000_000)
    db_session.refresh(job)
    assert job.tokens_used == 5_000_000_000
