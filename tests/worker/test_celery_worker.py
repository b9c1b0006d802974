"""Integration: a real Celery worker process on the real Redis broker and Postgres runs jobs end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from store.settings import Settings

from .celery_harness import enqueue_and_reconcile_through_a_real_worker, worker_pid

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def redis_db_url(redis_url: str) -> Iterator[str]:
    """A Redis database nobody uses right now (the highest empty one), flushed afterwards."""
    server = make_url(redis_url)
    host, port = server.host or "127.0.0.1", server.port or 6379
    for number in range(15, 0, -1):
        client = redis.Redis(host=host, port=port, db=number)
        if client.dbsize() == 0:
            break
        client.close()
    else:
        pytest.fail(f"no empty Redis database on {host}:{port} for the test")
    try:
        yield f"redis://{host}:{port}/{number}"
    finally:
        client.flushdb()
        client.close()


def test_a_real_worker_runs_enqueued_and_reconciled_jobs_on_redis_and_postgres(
    factory: sessionmaker[Session], worker_settings: Settings, redis_db_url: str, make_job, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=worker_settings.data_dir,
        database_url=worker_settings.database_url,
        broker_url=redis_db_url,
        result_backend=redis_db_url,
        cache_dir=worker_settings.cache_dir,
        heartbeat_interval_s=1.0,
        stale_after_s=30.0,
    )

    first, second = enqueue_and_reconcile_through_a_real_worker(factory, settings, make_job, tmp_path / "worker.log")

    assert (
        first.fine_tuned_model.startswith("ft:tiny-llama:radis:") and len(first.result_files) == 4
    )  # metrics, adapter, report, rationales
    assert (
        second.fine_tuned_model.startswith("ft:tiny-llama:radis:") and len(second.result_files) == 3
    )  # supervised: no rationales
    # One job per child process (worker_max_tasks_per_child=1): GPU memory goes back after each job.
    assert worker_pid(first) != worker_pid(second)
