"""Keyset pagination ("after" cursors) shared by the list functions.

Rows are ordered by ``(created_at, id)``; the cursor is the id of the last row the caller saw. Unlike
OFFSET, a page stays correct while new rows arrive.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from store.models import Base

T = TypeVar("T", bound=Base)


def check_limit(limit: int, *, maximum: int | None = None) -> None:
    """Refuse a page size below 1 (or above ``maximum``), naming the ``limit`` field."""
    if limit < 1 or (maximum is not None and limit > maximum):
        bound = f" and at most {maximum}" if maximum is not None else ""
        raise ValueError(f"limit: must be at least 1{bound}, got {limit}")


def page(
    session: Session,
    query: Select[Any],
    model: type[T],
    *,
    cursor: T | None,
    limit: int,
    descending: bool = True,
) -> tuple[list[T], bool]:
    """One page of ``query`` after the ``cursor`` row; returns ``(rows, has_more)``."""
    check_limit(limit)
    created_at, row_id = model.created_at, model.id
    if cursor is not None:
        c_created, c_id = cursor.created_at, cursor.id
        if descending:
            query = query.where(or_(created_at < c_created, and_(created_at == c_created, row_id < c_id)))
        else:
            query = query.where(or_(created_at > c_created, and_(created_at == c_created, row_id > c_id)))
    order = (created_at.desc(), row_id.desc()) if descending else (created_at.asc(), row_id.asc())
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    return rows[:limit], len(rows) > limit
