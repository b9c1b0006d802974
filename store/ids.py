"""Identifiers and timestamps: generated in Python, the same on Postgres and SQLite.

Ids are prefixed like OpenAI's (``file-…``, ``ftjob-…``, ``ftckpt-…``) so that a caller can tell what
an id names; the random part comes from :mod:`secrets`, so ids cannot be guessed from one another.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import overload

FILE_PREFIX = "file-"
JOB_PREFIX = "ftjob-"
CHECKPOINT_PREFIX = "ftckpt-"
PROJECT_PREFIX = "proj_"
KEY_PREFIX = "key_"
EVENT_PREFIX = "ftevent-"
UPLOAD_PREFIX = "upload_"
PART_PREFIX = "part_"

#: The shape of every id this module makes; used to refuse ids that would be unsafe in a path.
ID_PATTERN = re.compile(r"^[a-z]+[-_][0-9a-f]{24}$")


def new_id(prefix: str) -> str:
    """A fresh id: ``prefix`` followed by 24 random hex digits (96 bits)."""
    return f"{prefix}{secrets.token_hex(12)}"


def new_file_id() -> str:
    """A fresh ``file-…`` id (the API may need it before the row exists, to name the stored blob)."""
    return new_id(FILE_PREFIX)


def is_well_formed(object_id: str) -> bool:
    """True when ``object_id`` has the shape of an id made by :func:`new_id`."""
    return bool(ID_PATTERN.match(object_id))


def event_public_id(event_id: int) -> str:
    """The id OpenAI clients see for a job event row: ``ftevent-<n>``."""
    return f"{EVENT_PREFIX}{event_id}"


def parse_event_id(public_id: str) -> int:
    """Inverse of :func:`event_public_id`; raises ``ValueError`` naming the bad value."""
    if public_id.startswith(EVENT_PREFIX):
        digits = public_id[len(EVENT_PREFIX) :]
        if digits.isdigit():
            return int(digits)
    raise ValueError(f"not an event id: {public_id!r} (expected {EVENT_PREFIX}<number>)")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (every timestamp the store writes)."""
    return datetime.now(UTC)


@overload
def unix_seconds(moment: datetime) -> int: ...
@overload
def unix_seconds(moment: datetime | None) -> int | None: ...
def unix_seconds(moment: datetime | None) -> int | None:
    """Whole Unix seconds, as OpenAI's ``created_at`` fields carry them; ``None`` stays ``None``."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())
