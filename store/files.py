"""Files a project uploaded (or a job produced). Bytes live in the artifact store; rows hold the facts.

Every read is scoped by project: another project's file, or a deleted one, is :class:`NotFound`, the
same answer as an id that never existed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.errors import FileInUse, NotFound
from store.ids import is_well_formed, new_file_id, utcnow
from store.models import File, FileStatus
from store.paging import page
from store.projects import get_project, lock_project
from store.usage import active_jobs_using, check_storage_quota


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
    default_max_storage_bytes: int | None = None,
) -> File:
    """Record a stored blob as a file of the project.

    Enforces the project's storage limit (its ``max_storage_bytes``, else ``default_max_storage_bytes``,
    the deployment's; :mod:`store.usage`): raises :class:`~store.errors.QuotaExceeded`, and the caller
    then deletes the blob. ``file_id`` lets the caller name the blob after the file before the row exists.
    """
    if status not in set(FileStatus):
        raise ValueError(f"status: must be one of {', '.join(FileStatus)}, got {status!r}")
    if nbytes < 0:
        raise ValueError(f"bytes: must be >= 0, got {nbytes}")
    if file_id is not None and not (file_id.startswith("file-") and is_well_formed(file_id)):
        raise ValueError(f"file_id: not an id made by store.ids.new_file_id: {file_id!r}")
    lock_project(session, project_id)
    check_storage_quota(session, get_project(session, project_id), nbytes, default_max_storage_bytes)
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
    """Soft-delete: the file disappears from every read; the caller removes its blob after commit.

    Refused with :class:`FileInUse` while a queued or running job trains or validates on it (the
    project's lock orders this check against a job created on the file at the same moment)."""
    row = get_file(session, project_id, file_id)
    lock_project(session, project_id)
    users = active_jobs_using(session, row.id)
    if users:
        raise FileInUse(row.id, users)
    row.deleted_at = utcnow()
    session.flush()
    return row
