"""Read-only job queries: a project's job list, its fine-tuned models, counts, and the reconciler's scans.

Reads only; every change of a job's state goes through :mod:`store.jobs`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from store.errors import NotFound
from store.jobs import JOB_KIND
from store.models import Job, JobStatus
from store.paging import page


def list_jobs(
    session: Session,
    project_id: str,
    after: str | None = None,
    limit: int = 20,
    metadata_filter: dict[str, str] | None = None,
) -> tuple[list[Job], bool]:
    """The project's jobs newest first; ``after`` is the id of the last job seen; ``metadata_filter``
    keeps jobs whose metadata has every given key with the given (string) value."""
    cursor = None
    if after is not None:
        cursor = session.get(Job, after)
        if cursor is None or cursor.project_id != project_id:
            raise NotFound(JOB_KIND, after, param="after")
    query = select(Job).where(Job.project_id == project_id)
    for key, value in (metadata_filter or {}).items():
        query = query.where(Job.metadata_[key].as_string() == str(value))
    return page(session, query, Job, cursor=cursor, limit=limit, descending=True)


def fine_tuned_models(session: Session, project_id: str) -> list[Job]:
    """The project's succeeded jobs that named a model (not deleted since), newest first."""
    return list(
        session.scalars(
            select(Job)
            .where(
                Job.project_id == project_id,
                Job.status == JobStatus.SUCCEEDED,
                Job.fine_tuned_model.is_not(None),
                Job.model_deleted_at.is_(None),
            )
            .order_by(Job.finished_at.desc(), Job.id.desc())
        )
    )


def fine_tuned_model(session: Session, project_id: str, model_id: str) -> Job | None:
    """The project's succeeded job whose model is ``model_id`` (``None`` once the model was deleted)."""
    return session.scalars(
        select(Job)
        .where(
            Job.project_id == project_id,
            Job.status == JobStatus.SUCCEEDED,
            Job.fine_tuned_model == model_id,
            Job.model_deleted_at.is_(None),
        )
        .limit(1)
    ).first()


def count_jobs_by_status(session: Session) -> dict[str, int]:
    """Jobs of every project, counted by status (for the metrics gauge)."""
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status))
    return {status: int(count) for status, count in rows}


def queued_jobs_older_than(session: Session, moment: datetime) -> list[Job]:
    """Queued jobs last enqueued (or, never enqueued, created) before ``moment``: their queue message may be
    lost, so the reconciler enqueues them again (a duplicate message is harmless: only one claim wins)."""
    last_sent = func.coalesce(Job.enqueued_at, Job.created_at)
    return list(
        session.scalars(select(Job).where(Job.status == JobStatus.QUEUED, last_sent < moment).order_by(Job.created_at, Job.id))
    )


def stale_running_jobs(session: Session, moment: datetime) -> list[Job]:
    """Running jobs whose last heartbeat is older than ``moment`` (their worker probably died)."""
    return list(
        session.scalars(
            select(Job)
            .where(Job.status == JobStatus.RUNNING, or_(Job.heartbeat_at < moment, Job.heartbeat_at.is_(None)))
            .order_by(Job.heartbeat_at, Job.id)
        )
    )
