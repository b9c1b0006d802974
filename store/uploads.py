"""OpenAI's Uploads API in the store: an upload is announced with its size, receives parts, and is either
completed (its parts, in the order the caller names, become one file), cancelled or expired.

The rules:

- The announced size passes the project's storage quota at creation (:mod:`store.usage`), and the parts
  can never add up to more than it, so a pending upload holds at most what the quota allowed.
- Parts are blobs at server-chosen keys; only the project's own pending, unexpired upload takes parts.
- Completion names every part once; their sizes must add up to the announced size exactly. The caller
  assembles the blob, then records the file and the completion in one transaction (:func:`complete_upload`);
  the parts' blobs are deleted after the commit.
- Cancelling (or expiring) ends the upload; its parts' blobs are deleted after the commit (an expired
  upload's by the reconciler's sweep, :func:`end_expired_uploads`).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from store.errors import InvalidTransition, NotFound
from store.ids import utcnow
from store.models import File, Upload, UploadPart, UploadStatus
from store.projects import get_project, lock_project
from store.usage import check_storage_quota

UPLOAD_KIND = "upload"
#: Largest upload (OpenAI's limit): beyond any sane corpus, and far inside the column's range.
MAX_UPLOAD_BYTES = 8 * 1024**3


class UploadRejected(ValueError):
    """A request the upload cannot take; ``param`` names the field (the API's 400)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def create_upload(
    session: Session,
    *,
    project_id: str,
    filename: str,
    purpose: str,
    nbytes: int,
    mime_type: str,
    expires_after_s: int,
    default_max_storage_bytes: int | None = None,
) -> Upload:
    """A pending upload of ``nbytes``; :class:`~store.errors.QuotaExceeded` when they would not fit."""
    if not 1 <= nbytes <= MAX_UPLOAD_BYTES:
        raise UploadRejected(f"bytes: must be between 1 and {MAX_UPLOAD_BYTES}, got {nbytes}", "bytes")
    lock_project(session, project_id)
    check_storage_quota(session, get_project(session, project_id), nbytes, default_max_storage_bytes)
    upload = Upload(
        project_id=project_id,
        filename=filename,
        purpose=purpose,
        bytes=nbytes,
        mime_type=mime_type,
        status=UploadStatus.PENDING,
        expires_at=utcnow() + timedelta(seconds=expires_after_s),
    )
    session.add(upload)
    session.flush()
    return upload


def get_upload(session: Session, project_id: str, upload_id: str) -> Upload:
    """The project's upload (a pending one past its expiry reads as ``expired``); another project's is
    :class:`NotFound`."""
    upload = session.get(Upload, upload_id, populate_existing=True)
    if upload is None or upload.project_id != project_id:
        raise NotFound(UPLOAD_KIND, upload_id)
    if upload.status == UploadStatus.PENDING and upload.expires_at <= utcnow():
        upload.status = UploadStatus.EXPIRED
        session.flush()
    return upload


def _pending(session: Session, project_id: str, upload_id: str, action: str) -> Upload:
    # The row lock orders parts, completion and cancel of one upload.
    session.execute(select(Upload.id).where(Upload.id == upload_id).with_for_update())
    upload = get_upload(session, project_id, upload_id)
    if upload.status != UploadStatus.PENDING:
        raise InvalidTransition(upload_id, f"cannot {action}: the upload is {upload.status}")
    return upload


def received_bytes(session: Session, upload_id: str) -> int:
    """Bytes of the parts the upload has received."""
    return int(session.scalar(select(func.coalesce(func.sum(UploadPart.bytes), 0)).where(UploadPart.upload_id == upload_id)) or 0)


def room_left(session: Session, project_id: str, upload_id: str) -> int:
    """How many more bytes the pending upload may receive; :class:`InvalidTransition` unless pending."""
    upload = _pending(session, project_id, upload_id, "add a part")
    return upload.bytes - received_bytes(session, upload_id)


def add_part(session: Session, project_id: str, upload_id: str, *, storage_key: str, nbytes: int, sha256: str) -> UploadPart:
    """Record a stored part. :class:`UploadRejected` when it would take the upload past its announced size
    (the caller deletes the blob then)."""
    upload = _pending(session, project_id, upload_id, "add a part")
    left = upload.bytes - received_bytes(session, upload_id)
    if nbytes > left:
        raise UploadRejected(f"data: the part has {nbytes} bytes, but the upload has room for {left} more", "data")
    part = UploadPart(upload_id=upload_id, storage_key=storage_key, bytes=nbytes, sha256=sha256)
    session.add(part)
    session.flush()
    return part


def parts_to_complete(session: Session, project_id: str, upload_id: str, part_ids: list[str]) -> list[UploadPart]:
    """The parts named by ``part_ids``, in that order, checked: each one of this upload, none twice, and
    adding up to the announced size. :class:`UploadRejected` (param ``part_ids``) otherwise."""
    upload = _pending(session, project_id, upload_id, "complete")
    if not part_ids:
        raise UploadRejected("part_ids: name the upload's parts in order", "part_ids")
    if len(set(part_ids)) != len(part_ids):
        raise UploadRejected("part_ids: a part is named twice", "part_ids")
    parts = {p.id: p for p in session.scalars(select(UploadPart).where(UploadPart.upload_id == upload_id))}
    unknown = [pid for pid in part_ids if pid not in parts]
    if unknown:
        raise UploadRejected(f"part_ids: not parts of upload {upload_id}: {', '.join(unknown[:5])}", "part_ids")
    ordered = [parts[pid] for pid in part_ids]
    total = sum(p.bytes for p in ordered)
    if total != upload.bytes:
        raise UploadRejected(f"part_ids: the parts add up to {total} bytes, the upload announced {upload.bytes}", "part_ids")
    return ordered


def complete_upload(session: Session, project_id: str, upload_id: str, file: File) -> tuple[Upload, list[UploadPart]]:
    """pending → completed with ``file`` (recorded by the caller in this transaction); returns the upload
    and every part, whose blobs the caller deletes after the commit."""
    upload = _pending(session, project_id, upload_id, "complete")
    upload.status = UploadStatus.COMPLETED
    upload.file_id = file.id
    parts = list(session.scalars(select(UploadPart).where(UploadPart.upload_id == upload_id)))
    for part in parts:
        session.delete(part)
    session.flush()
    return upload, parts


def cancel_upload(session: Session, project_id: str, upload_id: str) -> tuple[Upload, list[UploadPart]]:
    """pending → cancelled; returns the upload and its parts, whose blobs the caller deletes after commit."""
    upload = _pending(session, project_id, upload_id, "cancel")
    upload.status = UploadStatus.CANCELLED
    parts = list(session.scalars(select(UploadPart).where(UploadPart.upload_id == upload_id)))
    for part in parts:
        session.delete(part)
    session.flush()
    return upload, parts


def end_expired_uploads(session: Session, limit: int = 100) -> list[UploadPart]:
    """Mark pending uploads past their expiry ``expired`` and take up to ``limit`` parts of expired uploads;
    returns those parts (their rows deleted), whose blobs the caller deletes after the commit."""
    session.execute(
        update(Upload)
        .where(Upload.status == UploadStatus.PENDING, Upload.expires_at <= utcnow())
        .values(status=UploadStatus.EXPIRED),
        execution_options={"synchronize_session": False},
    )
    query = select(UploadPart).join(Upload, UploadPart.upload_id == Upload.id).where(Upload.status == UploadStatus.EXPIRED)
    parts = list(session.scalars(query.order_by(UploadPart.created_at).limit(limit)))
    for part in parts:
        session.delete(part)
    session.flush()
    return parts
