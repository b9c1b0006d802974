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

    assert len(first.result_files) == 3 and len(second.result_files) == 2
