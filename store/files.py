"""Files a project uploaded (or a job produced). Bytes live in the artifact store; rows hold the facts.

Every read is scoped by project: another project's file, or a deleted one, is :class:`NotFound`, the
same answer as an id that never existed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.errors import NotFound, QuotaExceeded
from store.ids import is_well_formed, new_file_id, utcnow
from store.models import ACTIVE_STATUSES, File, FileStatus, Job
from store.paging import page
from store.projects import get_project, lock_project


def create_file(
    session: Session,
    *,
    project_id: str,
    filename: str,
    purpose: str,
    nbytes: int,
    sha256: str,
    storage_key: str,
    status: str = FileStatus.PROCESSED,
    status_details: str | None = None,
    validation: dict[str, Any] | None = None,
    n_examples: int | None = None,
    file_id: str | None = None,
) -> File:
    """Record a stored blob as a file of the project.

    Enforces the project's ``max_storage_bytes`` (raises :class:`QuotaExceeded`; the caller then deletes
    the blob). ``file_id`` lets the caller name the blob after the file before the row exists.
    """
    if status not in set(FileStatus):
        raise ValueError(f"status: must be one of {', '.join(FileStatus)}, got {status!r}")
    if nbytes < 0:
        raise ValueError(f"bytes: must be >= 0, got {nbytes}")
    if file_id is not None and not (file_id.startswith("file-") and is_well_formed(file_id)):
        raise ValueError(f"file_id: not an id made by store.ids.new_file_id: {file_id!r}")
    lock_project(session, project_id)
    check_storage_quota(session, project_id, nbytes)
    row = File(
        id=file_id or new_file_id(),
        project_id=project_id,
        filename=filename,
        purpose=purpose,
        bytes=nbytes,
        sha256=sha256,
        storage_key=storage_key,
        status=status,
        status_details=status_details,
        validation=validation,
        n_examples=n_examples,
    )
    session.add(row)
    session.flush()
    return row


def get_file(session: Session, project_id: str, file_id: str, *, param: str | None = None) -> File:
    """The project's live file ``file_id``; :class:`NotFound` (carrying ``param``) otherwise."""
    row = session.get(File, file_id)
    if row is None or row.project_id != project_id or row.deleted_at is not None:
        raise NotFound("file", file_id, param=param)
    return row


def list_files(
    session: Session,
    project_id: str,
    *,
    purpose: str | None = None,
    after: str | None = None,
    limit: int = 10_000,
    order: str = "desc",
) -> tuple[list[File], bool]:
    """The project's live files, newest first unless ``order="asc"``; ``after`` is a file id cursor."""
    if order not in ("asc", "desc"):
        raise ValueError(f"order: must be 'asc' or 'desc', got {order!r}")
    cursor = get_file(session, project_id, after, param="after") if after else None
    query = select(File).where(File.project_id == project_id, File.deleted_at.is_(None))
    if purpose is not None:
        query = query.where(File.purpose == purpose)
    return page(session, query, File, cursor=cursor, limit=limit, descending=order == "desc")


def delete_file(session: Session, project_id: str, file_id: str) -> File:
    """Soft-delete: the file disappears from every read. The blob stays until the caller removes it
    (after commit), so a job that already read the row can still finish."""
    row = get_file(session, project_id, file_id)
    row.deleted_at = utcnow()
    session.flush()
    return row


def storage_used(session: Session, project_id: str) -> int:
    """Bytes of the project's live files."""
    total = session.scalar(
        select(func.coalesce(func.sum(File.bytes), 0)).where(File.project_id == project_id, File.deleted_at.is_(None))
    )
    return int(total or 0)


def check_storage_quota(session: Session, project_id: str, incoming_bytes: int) -> None:
    """Raise :class:`QuotaExceeded` when ``incoming_bytes`` more would pass the project's storage limit."""
    project = get_project(session, project_id)
    if project.max_storage_bytes is None:
        return
    used = storage_used(session, project_id)
    if used + incoming_bytes > project.max_storage_bytes:
        raise QuotaExceeded(
            f"Storage quota exceeded: the project stores {used} bytes, this file adds {incoming_bytes},"
            f" the limit is {project.max_storage_bytes}; delete files to make room",
            limit=project.max_storage_bytes,
            current=used,
        )


def file_used_by_active_job(session: Session, file_id: str) -> bool:
    """True when a queued or running job trains or validates on ``file_id`` (its bytes must stay)."""
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
