"""Job events (monotonic ids as cursors, both directions) and checkpoints."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.errors import NotFound
from store.events import (
    add_checkpoint,
    add_event,
    list_checkpoints,
    list_events,
    prune_checkpoints,
)
from store.ids import event_public_id, parse_event_id
from store.models import Job


@pytest.fixture
def job(make_job: Callable[..., Job]) -> Job:
    return make_job()


def _messages(rows) -> list[str]:
    return [row.message for row in rows]


def test_event_ids_grow_and_carry_level_type_data(db_session: Session, job: Job) -> None:
    a = add_event(db_session, job.id, "step 1", type="metrics", data={"step": 1, "loss": 2.5})
    b = add_event(db_session, job.id, "slow data", level="warn")
    assert b.id > a.id
    assert (a.type, a.level, a.data) == ("metrics", "info", {"step": 1, "loss": 2.5})
    assert (b.type, b.level, b.data) == ("message", "warn", None)


def test_descending_pages_walk_back_through_history(db_session: Session, job: Job) -> None:
    for i in range(7):
        add_event(db_session, job.id, f"e{i}")
    # create_job wrote "Created fine-tuning job" first.
    expected = [f"e{i}" for i in reversed(range(7))] + [f"Created fine-tuning job: {job.id}"]
    seen: list[str] = []
    after = None
    while True:
        rows, more = list_events(db_session, job.id, after=after, limit=3)
        seen += _messages(rows)
        if not more:
            break
        after = rows[-1].id
    assert seen == expected


def test_ascending_returns_only_newer_events_for_streaming(db_session: Session, job: Job) -> None:
    first, _ = list_events(db_session, job.id, order="asc")
    cursor = first[-1].id
    assert list_events(db_session, job.id, after=cursor, order="asc") == ([], False)
    add_event(db_session, job.id, "new one")
    add_event(db_session, job.id, "newer one")
    rows, more = list_events(db_session, job.id, after=cursor, order="asc", limit=1)
    assert (_messages(rows), more) == (["new one"], True)
    rows, more = list_events(db_session, job.id, after=rows[-1].id, order="asc")
    assert (_messages(rows), more) == (["newer one"], False)


def test_events_of_other_jobs_are_not_listed(db_session: Session, make_job: Callable[..., Job]) -> None:
    one, two = make_job(), make_job()
    add_event(db_session, two.id, "only on two")
    rows, _ = list_events(db_session, one.id)
    assert "only on two" not in _messages(rows)


def test_bad_event_arguments_are_refused(db_session: Session, job: Job) -> None:
    with pytest.raises(ValueError, match="level"):
        add_event(db_session, job.id, "x", level="debug")
    with pytest.raises(ValueError, match="type"):
        add_event(db_session, job.id, "x", type="log")
    with pytest.raises(ValueError, match="order"):
        list_events(db_session, job.id, order="random")
    with pytest.raises(ValueError, match="limit"):
        list_events(db_session, job.id, limit=0)


def test_public_event_ids_round_trip() -> None:
    assert event_public_id(42) == "ftevent-42"
    assert parse_event_id("ftevent-42") == 42
    for bad in ("ftevent-", "ftevent-x1", "42", "ftjob-42"):
        with pytest.raises(ValueError, match="not an event id"):
            parse_event_id(bad)


def test_checkpoints_newest_first_with_cursor(db_session: Session, job: Job) -> None:
    for step in (10, 20, 30):
        add_checkpoint(db_session, job.id, step, storage_key=f"jobs/{job.id}/ckpt-{step}", metrics={"loss": 1 / step})
    page1, more1 = list_checkpoints(db_session, job.id, limit=2)
    page2, more2 = list_checkpoints(db_session, job.id, limit=2, after=page1[-1].id)
    assert [c.step for c in page1] == [30, 20] and more1
    assert [c.step for c in page2] == [10] and not more2
    assert page1[0].id.startswith("ftckpt-")
    with pytest.raises(NotFound):
        list_checkpoints(db_session, job.id, after="ftckpt-missing")


def test_one_checkpoint_per_step(db_session: Session, job: Job) -> None:
    add_checkpoint(db_session, job.id, 5, storage_key="a")
    with pytest.raises(IntegrityError), db_session.begin_nested():
        add_checkpoint(db_session, job.id, 5, storage_key="b")


def test_prune_keeps_the_newest(db_session: Session, job: Job) -> None:
    for step in (1, 2, 3, 4):
        add_checkpoint(db_session, job.id, step, storage_key=f"k{step}")
    removed = prune_checkpoints(db_session, job.id, keep=2)
    assert sorted(c.storage_key for c in removed) == ["k1", "k2"]
    assert [c.step for c in list_checkpoints(db_session, job.id)[0]] == [4, 3]
