"""Job history (events) and training checkpoints.

Event ids come from an auto-increment column, so they grow with time and serve as the cursor: OpenAI's
``GET …/events?after=ftevent-N`` lists older events newest first; streaming readers poll ascending.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.errors import NotFound
from store.models import Checkpoint, EventLevel, EventType, JobEvent
from store.paging import check_limit


def add_event(
    session: Session,
    job_id: str,
    message: str,
    *,
    level: str = EventLevel.INFO,
    type: str = EventType.MESSAGE,
    data: dict[str, Any] | None = None,
    step: int | None = None,
) -> JobEvent:
    """Append an event to the job's history (``type="metrics"`` events carry numbers in ``data``).

    ``step``: the training step a step event reports; a job has at most one event per step (a unique
    index), so a resumed attempt skips steps already recorded (:func:`recorded_steps`)."""
    if level not in set(EventLevel):
        raise ValueError(f"level: must be one of {', '.join(EventLevel)}, got {level!r}")
    if type not in set(EventType):
        raise ValueError(f"type: must be one of {', '.join(EventType)}, got {type!r}")
    event = JobEvent(job_id=job_id, message=message, level=level, type=type, data=data, step=step)
    session.add(event)
    session.flush()
    return event


def recorded_steps(session: Session, job_id: str, steps: list[int]) -> set[int]:
    """Which of ``steps`` already have a step event in the job's history."""
    if not steps:
        return set()
    query = select(JobEvent.step).where(JobEvent.job_id == job_id, JobEvent.step.in_(set(steps)))
    return {int(step) for step in session.scalars(query) if step is not None}


def list_events(
    session: Session,
    job_id: str,
    after: int | None = None,
    limit: int = 20,
    *,
    order: str = "desc",
) -> tuple[list[JobEvent], bool]:
    """A page of the job's events and whether more follow.

    ``order="desc"`` (OpenAI's listing): newest first, ``after`` = the last id seen, returns older ones.
    ``order="asc"`` (streaming): oldest first, returns events newer than ``after``.
    """
    check_limit(limit)
    query = select(JobEvent).where(JobEvent.job_id == job_id)
    if order == "desc":
        if after is not None:
            query = query.where(JobEvent.id < after)
        query = query.order_by(JobEvent.id.desc())
    elif order == "asc":
        if after is not None:
            query = query.where(JobEvent.id > after)
        query = query.order_by(JobEvent.id.asc())
    else:
        raise ValueError(f"order: must be 'asc' or 'desc', got {order!r}")
    rows = list(session.scalars(query.limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def add_checkpoint(
    session: Session,
    job_id: str,
    step: int,
    *,
    storage_key: str,
    metrics: dict[str, Any] | None = None,
) -> Checkpoint:
    """Record a checkpoint saved at optimizer ``step`` (one per step: a second one for the same step is refused)."""
    if step < 0:
        raise ValueError(f"step: must be >= 0, got {step}")
    checkpoint = Checkpoint(job_id=job_id, step=step, storage_key=storage_key, metrics=metrics or {})
    session.add(checkpoint)
    session.flush()
    return checkpoint


def list_checkpoints(
    session: Session,
    job_id: str,
    after: str | None = None,
    limit: int = 10,
) -> tuple[list[Checkpoint], bool]:
    """The job's checkpoints, newest step first; ``after`` is a checkpoint id cursor."""
    check_limit(limit)
    query = select(Checkpoint).where(Checkpoint.job_id == job_id)
    if after is not None:
        cursor = session.get(Checkpoint, after)
        if cursor is None or cursor.job_id != job_id:
            raise NotFound("checkpoint", after, param="after")
        query = query.where(Checkpoint.step < cursor.step)
    rows = list(session.scalars(query.order_by(Checkpoint.step.desc()).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def prune_checkpoints(session: Session, job_id: str, *, keep: int) -> list[Checkpoint]:
    """Delete all but the newest ``keep`` checkpoint rows; returns the removed rows so the caller can
    delete their blobs after commit."""
    if keep < 0:
        raise ValueError(f"keep: must be >= 0, got {keep}")
    rows = list(session.scalars(select(Checkpoint).where(Checkpoint.job_id == job_id).order_by(Checkpoint.step.desc())))
    removed = rows[keep:]
    for row in removed:
        session.delete(row)
    session.flush()
    return removed
