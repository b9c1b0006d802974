"""Integration: the embedded default (SQLite database, SQLite broker and result backend, no server)
runs jobs through a real Celery worker process, the same code path as production."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.db import make_engine, make_sessionmaker
from store.migrate import upgrade
from store.settings import Settings

from .celery_harness import enqueue_and_reconcile_through_a_real_worker

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def worker_settings(tmp_path: Path, model_cache_dir: Path) -> Settings:
    """Nothing but a data folder: database, broker and results default to SQLite files inside it."""
    settings = Settings(data_dir=tmp_path / "radis-data", cache_dir=model_cache_dir, heartbeat_interval_s=1.0, stale_after_s=30.0)
    assert settings.embedded and settings.broker_url.startswith("sqla+sqlite:///")
    upgrade(settings.database_url)
    return settings


@pytest.fixture
def factory(worker_settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(worker_settings.database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_a_real_worker_runs_jobs_in_the_embedded_mode(
    factory: sessionmaker[Session], worker_settings: Settings, make_job, tmp_path: Path
) -> None:
    first, second = enqueue_and_reconcile_through_a_real_worker(factory, worker_settings, make_job, tmp_path / "worker.log")

    assert len(first.result_files) == 4 and len(second.result_files) == 3  # metrics, adapter, report (+ rationales)


def test_a_queue_row_another_process_created_meanwhile_is_read_not_fatal(tmp_path) -> None:
    """Two processes declaring the gpu queue at once: the loser's insert fails on the unique name; the
    embedded channel reads the row instead of dying (it killed the embedded worker at start)."""
    import sqlite3

    from kombu import Connection
    from kombu.transport.sqlalchemy import Channel as KombuChannel

    url = f"sqlite:///{tmp_path / 'broker.db'}"
    with Connection(url, transport="worker.embedded_broker:Transport") as connection:
        channel = connection.default_channel
        channel._get_or_create("warm-up")  # creates the tables
        original = KombuChannel._get_or_create
        raced = {"n": 0}

        def the_other_process_wins(self, queue):
            if raced["n"] == 0:
                raced["n"] += 1
                # The other process inserts the row after our lookup missed it.
                with sqlite3.connect(tmp_path / "broker.db") as other:
                    other.execute("INSERT INTO kombu_queue (name) VALUES (?)", (queue,))
                obj = self.queue_cls(queue)
                self.session.add(obj)
                self.session.commit()  # raises IntegrityError, as the real race does
            return original(self, queue)

        KombuChannel._get_or_create = the_other_process_wins
        try:
            row = channel._get_or_create("gpu")
        finally:
            KombuChannel._get_or_create = original
    assert raced["n"] == 1 and row.name == "gpu"
