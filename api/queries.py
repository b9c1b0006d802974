"""Read-only queries the API needs that the store does not offer (yet).

Reads only: every write goes through the store's repositories. Each function says which store module
it belongs in; moving it there changes no caller but the import.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import ACTIVE_STATUSES, Job, JobStatus


def count_jobs_by_status(session: Session) -> dict[str, int]:
    """Jobs of every project, counted by status (for the metrics gauge). Belongs in ``store.jobs``."""
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status))
    return {status: int(count) for status, count in rows}


def fine_tuned_models(session: Session, project_id: str) -> list[Job]:
    """The project's succeeded jobs that named a model, newest first. Belongs in ``store.jobs``."""
    return list(
        session.scalars(
            select(Job)
            .where(Job.project_id == project_id, Job.status == JobStatus.SUCCEEDED, Job.fine_tuned_model.is_not(None))
            .order_by(Job.finished_at.desc(), Job.id.desc())
        )
    )


def fine_tuned_model(session: Session, project_id: str, model_id: str) -> Job | None:
    """The project's succeeded job whose model is ``model_id``. Belongs in ``store.jobs``."""
    return session.scalars(
        select(Job)
        .where(Job.project_id == project_id, Job.status == JobStatus.SUCCEEDED, Job.fine_tuned_model == model_id)
        .limit(1)
    ).first()


def file_used_by_active_job(session: Session, file_id: str) -> bool:
    """True when a queued or running job trains or validates on ``file_id``. Belongs in ``store.files``."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Job)
            .where(
                Job.status.in_(ACTIVE_STATUSES),
                (Job.training_file_id == file_id) | (Job.validation_file_id == file_id),
            )
        )
        or 0
    ) > 0
