"""Uploads (OpenAI's Uploads API) in the store on migrated Postgres: quota at creation, parts bounded by
the announced size, completion checks, cancel and expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from store import uploads
from store.errors import InvalidTransition, NotFound, QuotaExceeded
from store.ids import utcnow
from store.models import Project
from store.projects import create_project

from .conftest import add_file


def _upload(db_session: Session, project: Project, nbytes: int = 100, default_max_storage_bytes: int | None = None) -> str:
    return uploads.create_upload(
        db_session,
        project_id=project.id,
        filename="big.jsonl",
        purpose="fine-tune",
        nbytes=nbytes,
        mime_type="application/jsonl",
        expires_after_s=3600,
        default_max_storage_bytes=default_max_storage_bytes,
    ).id


def _part(db_session: Session, project: Project, upload_id: str, nbytes: int, name: str) -> str:
    return uploads.add_part(
        db_session, project.id, upload_id, storage_key=f"upload-parts/{name}", nbytes=nbytes, sha256="0" * 64
    ).id


def test_parts_never_pass_the_announced_size_and_completion_checks_the_parts(db_session: Session, project: Project) -> None:
    upload_id = _upload(db_session, project)
    a = _part(db_session, project, upload_id, 60, "a")
    with pytest.raises(uploads.UploadRejected, match="room for 40 more"):
        _part(db_session, project, upload_id, 41, "b")
    assert uploads.room_left(db_session, project.id, upload_id) == 40
    b = _part(db_session, project, upload_id, 40, "b")
    for part_ids in ([a], [a, a], [a, "part_unknown"], []):
        with pytest.raises(uploads.UploadRejected) as rejected:
            uploads.parts_to_complete(db_session, project.id, upload_id, part_ids)
        assert rejected.value.param == "part_ids"
    assert [p.id for p in uploads.parts_to_complete(db_session, project.id, upload_id, [b, a])] == [b, a]

    row = add_file(db_session, project.id, "big.jsonl", nbytes=100)
    done, parts = uploads.complete_upload(db_session, project.id, upload_id, row)
    assert (done.status, done.file_id, sorted(p.id for p in parts)) == ("completed", row.id, sorted([a, b]))
    with pytest.raises(InvalidTransition):
        uploads.cancel_upload(db_session, project.id, upload_id)


def test_the_quota_applies_at_creation_and_other_projects_see_nothing(db_session: Session, project: Project) -> None:
    with pytest.raises(QuotaExceeded):
        _upload(db_session, project, 1000, default_max_storage_bytes=999)
    upload_id = _upload(db_session, project)
    other = create_project(db_session, "globex")
    with pytest.raises(NotFound):
        uploads.get_upload(db_session, other.id, upload_id)
    with pytest.raises(NotFound):
        uploads.room_left(db_session, other.id, upload_id)


def test_cancel_returns_the_parts_and_an_expired_upload_takes_none(db_session: Session, project: Project) -> None:
    upload_id = _upload(db_session, project)
    part = _part(db_session, project, upload_id, 10, "a")
    cancelled, parts = uploads.cancel_upload(db_session, project.id, upload_id)
    assert cancelled.status == "cancelled" and [p.id for p in parts] == [part]

    late = _upload(db_session, project)
    uploads.get_upload(db_session, project.id, late).expires_at = utcnow() - timedelta(seconds=1)
    db_session.flush()
    assert uploads.get_upload(db_session, project.id, late).status == "expired"
    with pytest.raises(InvalidTransition, match="expired"):
        _part(db_session, project, late, 10, "b")


def test_the_sweep_ends_expired_uploads_and_hands_back_their_parts(db_session: Session, project: Project) -> None:
    live = _upload(db_session, project)
    _part(db_session, project, live, 10, "live")
    late = _upload(db_session, project)
    part = _part(db_session, project, late, 10, "late")
    uploads.get_upload(db_session, project.id, late).expires_at = utcnow() - timedelta(seconds=1)
    db_session.flush()

    assert [p.id for p in uploads.end_expired_uploads(db_session)] == [part]
    assert uploads.get_upload(db_session, project.id, late).status == "expired"
    assert uploads.room_left(db_session, project.id, live) == 90  # the live upload keeps its part
    assert uploads.end_expired_uploads(db_session) == []


def test_the_parts_of_unfinished_uploads_count_in_the_projects_storage(db_session: Session, project: Project) -> None:
    from store.usage import storage_usage

    before = storage_usage(db_session, project.id)
    upload_id = _upload(db_session, project)
    _part(db_session, project, upload_id, 30, "a")
    used = storage_usage(db_session, project.id)
    assert (used.upload_bytes, used.total) == (30, before.total + 30)
    uploads.cancel_upload(db_session, project.id, upload_id)
    assert storage_usage(db_session, project.id).total == before.total
