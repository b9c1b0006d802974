"""The reconciler against a real store: which jobs it sends again, and what it records.

The queue's transport is a plain callable by design (the Celery send in production); here it records
the ids, so these tests need no broker. Each test gets an empty database: the reconciler looks at every job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.db import make_engine, make_sessionmaker, session_scope
from store.ids import utcnow
from store.jobs import claim_job, mark_enqueued, mark_succeeded, request_cancel
from store.settings import Settings
from worker.queue import JobQueue
from worker.reconciler import DEFAULT_REQUEUE_AFTER_S, DEFAULT_UNSENT_GRACE_S, reconcile_once, run_forever

from .conftest import load_job

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def worker_db_url(make_pg_database: Callable[..., str]) -> str:
    """An empty database per test (overrides the module-wide one)."""
    return make_pg_database()


@pytest.fixture
def factory(worker_db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(worker_db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def _later(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def test_queued_jobs_are_sent_when_never_sent_or_sent_long_ago(
    factory: sessionmaker[Session], worker_settings: Settings, make_job
) -> None:
    never_sent = make_job()
    just_sent = make_job()
    with session_scope(factory) as session:
        assert mark_enqueued(session, just_sent)
    cancelled = make_job()
    with session_scope(factory) as session:
        request_cancel(session, load_job(factory, cancelled).project_id, cancelled)
    sent: list[str] = []

    # Just created: the API is presumably enqueueing it right now.
    assert reconcile_once(factory, worker_settings, JobQueue(factory, send=sent.append)) == {"queued": 0, "stale": 0, "errors": 0}
    assert sent == []

    assert reconcile_once(
        factory, worker_settings, JobQueue(factory, send=sent.append), now=_later(DEFAULT_UNSENT_GRACE_S + 1)
    ) == {"queued": 1, "stale": 0, "errors": 0}
    assert sent == [never_sent]
    assert load_job(factory, never_sent).enqueued_at is not None

    # Long after the last send, both queued jobs are presumed lost by the broker; the cancelled one never.
    sent.clear()
    counts = reconcile_once(
        factory, worker_settings, JobQueue(factory, send=sent.append), now=_later(DEFAULT_REQUEUE_AFTER_S + 1)
    )
    assert counts == {"queued": 2, "stale": 0, "errors": 0}
    assert sorted(sent) == sorted([never_sent, just_sent])


def test_running_jobs_are_sent_only_when_their_heartbeat_is_stale(
    factory: sessionmaker[Session], worker_settings: Settings, make_job
) -> None:
    running = make_job()
    finished = make_job()
    with session_scope(factory) as session:
        claim_job(session, running, "worker-a")
        claim_job(session, finished, "worker-a")
        mark_succeeded(session, finished, "worker-a", fine_tuned_model="ft:x:y:z", trained_tokens=1, result_files=[])
    sent: list[str] = []
    memory: dict[str, datetime] = {}

    assert reconcile_once(factory, worker_settings, JobQueue(factory, send=sent.append), recently_sent=memory)["stale"] == 0

    stale_time = _later(worker_settings.stale_after_s + 1)
    assert (
        reconcile_once(factory, worker_settings, JobQueue(factory, send=sent.append), now=stale_time, recently_sent=memory)[
            "stale"
        ]
        == 1
    )
    assert sent == [running]
    assert load_job(factory, running).status == "running"  # the worker that gets the message takes it over

    # A loop does not send it again on every pass while no worker is free ...
    assert (
        reconcile_once(
            factory,
            worker_settings,
            JobQueue(factory, send=sent.append),
            now=stale_time + timedelta(seconds=60),
            recently_sent=memory,
        )["stale"]
        == 0
    )
    # ... but does once the send is old.
    much_later = stale_time + timedelta(seconds=DEFAULT_REQUEUE_AFTER_S + 1)
    assert (
        reconcile_once(factory, worker_settings, JobQueue(factory, send=sent.append), now=much_later, recently_sent=memory)[
            "stale"
        ]
        == 1
    )
    assert sent == [running, running]


def test_a_failed_send_is_counted_and_the_job_stays_unsent(
    factory: sessionmaker[Session], worker_settings: Settings, make_job
) -> None:
    job_id = make_job()

    def broker_down(_: str) -> None:
        raise ConnectionError("broker unreachable")

    counts = reconcile_once(factory, worker_settings, JobQueue(factory, send=broker_down), now=_later(DEFAULT_UNSENT_GRACE_S + 1))

    assert counts == {"queued": 0, "stale": 0, "errors": 1}
    assert load_job(factory, job_id).enqueued_at is None


def test_run_forever_reconciles_until_stopped(factory: sessionmaker[Session], worker_settings: Settings, make_job) -> None:
    job_id = make_job()
    stop = threading.Event()
    sent: list[str] = []

    def enqueue(sent_id: str) -> None:
        sent.append(sent_id)
        stop.set()

    # A zero grace makes the new job due at the first pass.
    settings = worker_settings
    thread = threading.Thread(
        target=run_forever,
        kwargs={
            "interval_s": 0.05,
            "factory": factory,
            "settings": settings,
            "queue": JobQueue(factory, send=enqueue),
            "stop": stop,
            "unsent_grace_s": 0.0,
        },
        daemon=True,
    )
    thread.start()
    thread.join(timeout=20)

    assert not thread.is_alive()
    assert sent == [job_id]
