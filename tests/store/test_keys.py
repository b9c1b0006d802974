"""API keys: shown once, stored hashed, revocable, scoped to a project."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from store.errors import AlreadyExists, NotFound
from store.keys import (
    KEY_PLAINTEXT_PREFIX,
    LAST_USED_RESOLUTION,
    authenticate,
    authenticate_with_project,
    create_key,
    create_project,
    get_or_create_project,
    list_keys,
    revoke_key,
)
from store.models import ApiKey, Project


def test_create_key_returns_plaintext_once_and_stores_only_its_hash(db_session: Session, project: Project) -> None:
    plaintext, key = create_key(db_session, project.id, "ci")
    assert re.fullmatch(r"sk-radis-[A-Za-z0-9_-]{43}", plaintext)
    assert key.id.startswith("key_")
    assert key.prefix == plaintext[:12]
    assert key.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    stored = db_session.execute(select(ApiKey.__table__)).mappings().all()
    assert all(plaintext not in str(dict(row).values()) for row in stored)


def test_authenticate_accepts_the_key_and_touches_last_used(db_session: Session, project: Project) -> None:
    plaintext, key = create_key(db_session, project.id, "ci")
    assert key.last_used_at is None
    found = authenticate(db_session, plaintext)
    assert found is not None and found.id == key.id and found.project_id == project.id
    assert found.last_used_at is not None


def test_last_used_is_rewritten_only_after_its_resolution(db_session: Session, project: Project) -> None:
    plaintext, key = create_key(db_session, project.id, "ci")
    first = authenticate(db_session, plaintext).last_used_at
    assert authenticate(db_session, plaintext).last_used_at == first
    key.last_used_at = first - LAST_USED_RESOLUTION - timedelta(seconds=1)
    db_session.flush()
    assert authenticate(db_session, plaintext).last_used_at > first - LAST_USED_RESOLUTION


@pytest.mark.parametrize("candidate", ["", "sk-radis-", "sk-radis-wrong", "Bearer sk-radis-x", "sk-other-abc"])
def test_authenticate_rejects_unknown_or_malformed_keys(db_session: Session, project: Project, candidate: str) -> None:
    create_key(db_session, project.id, "ci")
    assert authenticate(db_session, candidate) is None


def test_revoked_key_no_longer_authenticates(db_session: Session, project: Project) -> None:
    plaintext, key = create_key(db_session, project.id, "ci")
    revoked = revoke_key(db_session, key.id)
    assert revoked.revoked_at is not None
    assert authenticate(db_session, plaintext) is None
    # Revoking again keeps the first time.
    assert revoke_key(db_session, key.id).revoked_at == revoked.revoked_at


def test_revoke_is_scoped_to_the_project(db_session: Session, project: Project) -> None:
    other = create_project(db_session, "other")
    _, key = create_key(db_session, project.id, "ci")
    with pytest.raises(NotFound):
        revoke_key(db_session, key.id, project_id=other.id)
    with pytest.raises(NotFound):
        revoke_key(db_session, "key_missing")


def test_list_keys_is_per_project_and_can_hide_revoked(db_session: Session, project: Project) -> None:
    other = create_project(db_session, "other")
    _, a = create_key(db_session, project.id, "a")
    _, b = create_key(db_session, project.id, "b")
    create_key(db_session, other.id, "c")
    b.created_at = a.created_at + timedelta(seconds=1)  # equal times would be ordered by the random ids
    revoke_key(db_session, a.id)
    assert [k.id for k in list_keys(db_session, project.id)] == [a.id, b.id]
    assert [k.id for k in list_keys(db_session, project.id, include_revoked=False)] == [b.id]


def test_keys_are_unique_and_distinct(db_session: Session, project: Project) -> None:
    plaintexts = {create_key(db_session, project.id, f"k{i}")[0] for i in range(5)}
    assert len(plaintexts) == 5 and all(p.startswith(KEY_PLAINTEXT_PREFIX) for p in plaintexts)


def test_projects_have_unique_names(db_session: Session) -> None:
    first = create_project(db_session, "team")
    assert first.id.startswith("proj_")
    with pytest.raises(AlreadyExists):
        create_project(db_session, "team")
    assert get_or_create_project(db_session, "team").id == first.id
    assert get_or_create_project(db_session, "new").id != first.id
    with pytest.raises(ValueError, match="project name"):
        create_project(db_session, "  ")


def test_create_key_for_a_missing_project_is_not_found(db_session: Session) -> None:
    with pytest.raises(NotFound):
        create_key(db_session, "proj_missing", "ci")


def test_authenticate_with_project_returns_the_key_and_its_project_and_refuses_what_authenticate_refuses(
    db_session: Session, project: Project
) -> None:
    plaintext, key = create_key(db_session, project.id, "joined")
    found = authenticate_with_project(db_session, plaintext)
    assert found is not None and found[0].id == key.id and found[1].id == project.id
    assert authenticate_with_project(db_session, plaintext + "x") is None
    assert authenticate_with_project(db_session, "not-a-key") is None
    revoke_key(db_session, key.id)
    assert authenticate_with_project(db_session, plaintext) is None
