"""What a project's jobs use: stored bytes and run seconds (issue 13, "Storage is not accounted").

The rules, in one place:

- **Usage** of a project = bytes of its live files (uploads and job results) + ``work_bytes`` of its jobs
  whose working folder (checkpoints, the adapter before it is published) is not removed yet + the parts
  its unfinished uploads have received (:mod:`store.uploads`; they go when an upload ends).
- **Limit** = the project's ``max_storage_bytes`` (``radis projects set``), else the deployment's
  ``Settings.max_storage_bytes_per_project``; ``0`` means none. An upload or a job's results that would
  pass it are refused with :class:`~store.errors.QuotaExceeded` (the API's 429 ``quota_exceeded``).
- **A file a queued or running job uses cannot be deleted** (:class:`~store.errors.FileInUse`, a 409):
  so a queued job always finds its training file, and a deleted file's blob is removed at once, never
  kept uncounted. (Files deleted while in use by an older release are purged when that job is cleaned.)
- **A job's folder is removed once the job ended** (succeeded, failed or cancelled); its final outputs
  were copied to result files before, and stay. ``work_cleaned_at`` records it; the worker does it right
  after the final transition and the reconciler sweeps what was missed (a job failed by a take-over,
  a handed-back job cancelled while queued, a worker killed in between).

Usage columns are written here, not in :mod:`store.jobs`: they are accounting, not the job's state; the
writes by a worker are conditional on it owning the running job, like every other write of its.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from store.errors import QuotaExceeded
from store.ids import utcnow
from store.models import ACTIVE_STATUSES, TERMINAL_STATUSES, File, Job, JobStatus, Project, Upload, UploadPart


@dataclass(frozen=True)
class StorageUsage:
    """A project's stored bytes: live files and uncleaned job folders."""

    file_bytes: int
    work_bytes: int
    #: Parts received by uploads not completed yet (OpenAI's Uploads API, :mod:`store.uploads`).
    upload_bytes: int = 0

    @property
    def total(self) -> int:
        return self.file_bytes + self.work_bytes + self.upload_bytes


def storage_usage(session: Session, project_id: str) -> StorageUsage:
    """What the project stores now."""
    files = session.scalar(
        select(func.coalesce(func.sum(File.bytes), 0)).where(File.project_id == project_id, File.deleted_at.is_(None))
    )
    work = session.scalar(
        select(func.coalesce(func.sum(Job.work_bytes), 0)).where(Job.project_id == project_id, Job.work_cleaned_at.is_(None))
    )
    parts = session.scalar(
        select(func.coalesce(func.sum(UploadPart.bytes), 0))
        .join(Upload, UploadPart.upload_id == Upload.id)
        .where(Upload.project_id == project_id)
    )
    return StorageUsage(int(files or 0), int(work or 0), int(parts or 0))


def storage_limit(project: Project, default: int | None) -> int | None:
    """The project's storage limit in bytes: its own, else ``default``; ``None`` (or 0) means none."""
    limit = project.max_storage_bytes if project.max_storage_bytes is not None else default
    return limit or None


def check_storage_quota(session: Session, project: Project, incoming_bytes: int, default: int | None) -> None:
    """Raise :class:`QuotaExceeded` when ``incoming_bytes`` more would pass the project's storage limit.
    The caller holds the project's lock (:func:`store.projects.lock_project`)."""
    limit = storage_limit(project, default)
    if limit is None:
        return
    used = storage_usage(session, project.id)
    if used.total + incoming_bytes > limit:
        source = "the project's max_storage_bytes" if project.max_storage_bytes is not None else "max_storage_bytes_per_project"
        raise QuotaExceeded(
            f"Storage quota exceeded: the project stores {used.total} bytes ({used.file_bytes} in files,"
            f" {used.work_bytes} in running jobs' folders, {used.upload_bytes} in unfinished uploads' parts),"
            f" this adds {incoming_bytes}, and the limit"
            f" ({source}) is {limit} bytes; delete files to make room",
            limit=limit,
            current=used.total,
        )


def active_jobs_using(session: Session, file_id: str) -> list[str]:
    """Ids of the queued or running jobs that train or validate on ``file_id``."""
    query = select(Job.id).where(
        Job.status.in_(ACTIVE_STATUSES), (Job.training_file_id == file_id) | (Job.validation_file_id == file_id)
    )
    return list(session.scalars(query.order_by(Job.created_at)))


def _owned_update(session: Session, job_id: str, worker_id: str, values: dict[str, Any]) -> bool:
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(Job).where(Job.id == job_id, Job.status == JobStatus.RUNNING, Job.worker_id == worker_id).values(**values),
            execution_options={"synchronize_session": False},
        ),
    )
    return result.rowcount == 1


def record_run_seconds(session: Session, job_id: str, worker_id: str, run_seconds: float) -> bool:
    """The running job has run ``run_seconds`` (all attempts together); False if ``worker_id`` lost it."""
    return _owned_update(session, job_id, worker_id, {"run_seconds": max(0.0, float(run_seconds))})


def record_tokens_used(session: Session, job_id: str, worker_id: str, tokens: int) -> bool:
    """The running job has used ``tokens`` (generated plus trained, all attempts together); False if
    ``worker_id`` lost it."""
    return _owned_update(session, job_id, worker_id, {"tokens_used": max(0, int(tokens))})


def record_work_bytes(session: Session, job_id: str, worker_id: str, nbytes: int) -> bool:
    """The running job's folder holds ``nbytes``; False if ``worker_id`` lost it."""
    return _owned_update(session, job_id, worker_id, {"work_bytes": max(0, int(nbytes))})


@dataclass(frozen=True)
class Cleanup:
    """What removing an ended job's folder involves: the job, and blobs of deleted input files that no
    active job needs any more."""

    job_id: str
    deleted_input_keys: list[str]


def cleanup_plan(session: Session, job_id: str) -> Cleanup | None:
    """What to remove for ``job_id``; ``None`` unless it ended and was not cleaned yet."""
    job = session.get(Job, job_id, populate_existing=True)
    if job is None or job.status not in TERMINAL_STATUSES or job.work_cleaned_at is not None:
        return None
    keys = []
    for file_id in (job.training_file_id, job.validation_file_id):
        row = session.get(File, file_id) if file_id else None
        if row is not None and row.deleted_at is not None and not active_jobs_using(session, row.id):
            keys.append(row.storage_key)
    return Cleanup(job_id, keys)


def mark_cleaned(session: Session, job_id: str) -> bool:
    """The ended job's folder is gone: it counts no more. False if it was not ended or already cleaned."""
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_(TERMINAL_STATUSES), Job.work_cleaned_at.is_(None))
            .values(work_bytes=0, work_cleaned_at=utcnow()),
            execution_options={"synchronize_session": False},
        ),
    )
    return result.rowcount == 1


def jobs_to_clean(session: Session, limit: int = 100) -> list[str]:
    """Ended jobs whose folder was not removed yet, oldest first."""
    query = select(Job.id).where(Job.status.in_(TERMINAL_STATUSES), Job.work_cleaned_at.is_(None))
    return list(session.scalars(query.order_by(Job.finished_at).limit(limit)))
