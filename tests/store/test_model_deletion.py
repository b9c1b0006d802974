"""Deleting a fine-tuned model (issue 15) on migrated Postgres: the adapter file goes and counts no more,
the model is gone from every read, another project's model and a second delete are NotFound."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from store import result_files
from store.errors import NotFound
from store.files import get_file
from store.job_queries import fine_tuned_model, fine_tuned_models
from store.jobs import claim_job, delete_fine_tuned_model, mark_succeeded
from store.models import Job, JobEvent, Project
from store.projects import create_project
from store.usage import storage_usage

from .conftest import add_file

MODEL = "ft:tiny-llama:radis:{}"


def _succeeded(db_session: Session, project: Project, make_job: Callable[..., Job]) -> tuple[Job, list[str]]:
    """A succeeded job with an adapter (1000 bytes) and a report (30 bytes) as result files."""
    job = make_job()
    assert claim_job(db_session, job.id, "w1") is not None
    adapter = add_file(db_session, project.id, result_files.ADAPTER.filename(job.id), nbytes=1000)
    report = add_file(db_session, project.id, result_files.REPORT.filename(job.id), nbytes=30)
    done = mark_succeeded(
        db_session, job.id, "w1", fine_tuned_model=MODEL.format(job.id), trained_tokens=10, result_files=[adapter.id, report.id]
    )
    return done, [adapter.id, report.id]


def test_deleting_a_model_deletes_its_adapter_and_hides_the_model(
    db_session: Session, project: Project, make_job: Callable[..., Job]
) -> None:
    job, (adapter_id, report_id) = _succeeded(db_session, project, make_job)
    kept, _ = _succeeded(db_session, project, make_job)
    before = storage_usage(db_session, project.id).file_bytes

    deleted_job, deleted = delete_fine_tuned_model(db_session, project.id, job.fine_tuned_model or "")

    assert [row.id for row in deleted] == [adapter_id]  # the report stays, the caller removes the adapter's blob
    assert deleted_job.model_deleted_at is not None and deleted_job.status == "succeeded"
    assert storage_usage(db_session, project.id).file_bytes == before - 1000
    with pytest.raises(NotFound):
        get_file(db_session, project.id, adapter_id)
    assert get_file(db_session, project.id, report_id).id == report_id
    assert fine_tuned_model(db_session, project.id, job.fine_tuned_model or "") is None
    assert [j.id for j in fine_tuned_models(db_session, project.id)] == [kept.id]
    messages = [e.message for e in db_session.query(JobEvent).filter(JobEvent.job_id == job.id)]
    assert f"Fine-tuned model deleted: {job.fine_tuned_model}" in messages
    # A second delete finds nothing.
    with pytest.raises(NotFound):
        delete_fine_tuned_model(db_session, project.id, job.fine_tuned_model or "")


def test_another_projects_model_and_an_unknown_name_are_not_found(
    db_session: Session, project: Project, make_job: Callable[..., Job]
) -> None:
    job, _ = _succeeded(db_session, project, make_job)
    other = create_project(db_session, "globex")
    for project_id, name in ((other.id, job.fine_tuned_model or ""), (project.id, "ft:tiny-llama:radis:ftjob-none")):
        with pytest.raises(NotFound):
            delete_fine_tuned_model(db_session, project_id, name)
    assert fine_tuned_model(db_session, project.id, job.fine_tuned_model or "") is not None


def test_a_job_that_did_not_succeed_has_no_model_to_delete(
    db_session: Session, project: Project, make_job: Callable[..., Job]
) -> None:
    job = make_job(suffix="x")
    with pytest.raises(NotFound):
        delete_fine_tuned_model(db_session, project.id, MODEL.format(job.id))
