"""API keys: created once in plaintext, stored only as a SHA-256, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.errors import NotFound
from store.ids import utcnow
from store.models import ApiKey, Project
from store.projects import create_project, get_or_create_project, get_project

__all__ = [
    "KEY_PLAINTEXT_PREFIX",
    "authenticate",
    "authenticate_with_project",
    "create_key",
    "create_project",
    "get_or_create_project",
    "hash_key",
    "list_keys",
    "revoke_key",
]

#: Every key starts with this, so secret scanners and people can recognise one.
KEY_PLAINTEXT_PREFIX = "sk-radis-"
#: Characters of the plaintext kept for listings ("sk-radis-Ab3").
SHOWN_PREFIX_CHARS = 12
#: ``last_used_at`` is rewritten at most this often: a write per request would contend with the worker.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def hash_key(plaintext: str) -> str:
    """SHA-256 hex digest of a key (keys are 256-bit random, so a fast hash is enough)."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def create_key(session: Session, project_id: str, name: str) -> tuple[str, ApiKey]:
    """Create a key for the project; returns ``(plaintext, row)``. The plaintext is never stored or shown again."""
    get_project(session, project_id)
    if not name.strip():
        raise ValueError("key name: must not be empty")
    plaintext = KEY_PLAINTEXT_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(project_id=project_id, name=name.strip(), prefix=plaintext[:SHOWN_PREFIX_CHARS], key_hash=hash_key(plaintext))
    session.add(key)
    session.flush()
    return plaintext, key


def authenticate(session: Session, plaintext: str) -> ApiKey | None:
    """The live key matching ``plaintext``, or ``None`` (unknown, malformed or revoked). Touches ``last_used_at``."""
    if not plaintext.startswith(KEY_PLAINTEXT_PREFIX):
        return None
    digest = hash_key(plaintext)
    key = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).one_or_none()
    # The lookup is by digest already; the constant-time compare keeps the check itself free of timing leaks.
    if key is None or not hmac.compare_digest(key.key_hash, digest) or key.revoked_at is not None:
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        session.flush()
    return key


def authenticate_with_project(session: Session, plaintext: str) -> tuple[ApiKey, Project] | None:
    """The live key matching ``plaintext`` and its project, read in one statement; ``None`` as :func:`authenticate`.

    The API checks a key on every request: one joined ``SELECT`` (and an ``UPDATE`` of ``last_used_at`` at
    most once a :data:`LAST_USED_RESOLUTION` per key) instead of a query for the key and another for its project.
    """
    if not plaintext.startswith(KEY_PLAINTEXT_PREFIX):
        return None
    digest = hash_key(plaintext)
    row = session.execute(
        select(ApiKey, Project).join(Project, Project.id == ApiKey.project_id).where(ApiKey.key_hash == digest)
    ).one_or_none()
    if row is None:
        return None
    key, project = row
    if not hmac.compare_digest(key.key_hash, digest) or key.revoked_at is not None:
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        session.flush()
    return key, project


def list_keys(session: Session, project_id: str, *, include_revoked: bool = True) -> list[ApiKey]:
    """The project's keys, oldest first (their ``prefix`` tells them apart; hashes stay inside)."""
    query = select(ApiKey).where(ApiKey.project_id == project_id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(query.order_by(ApiKey.created_at, ApiKey.id)))


def revoke_key(session: Session, key_id: str, *, project_id: str | None = None) -> ApiKey:
    """Revoke a key (idempotent: a revoked key keeps its first ``revoked_at``). Scoped to ``project_id`` when given."""
    key = session.get(ApiKey, key_id)
    if key is None or (project_id is not None and key.project_id != project_id):
        raise NotFound("API key", key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    return key
