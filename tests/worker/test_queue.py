"""The one enqueue path: a committed job is sent to the GPU queue and the send recorded, on a real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.db import session_scope
from store.jobs import claim_job
from store.settings import Settings
from worker.app import GPU_QUEUE, RUN_JOB_TASK, make_celery
from worker.queue import JobQueue

from .conftest import load_job

pytestmark = pytest.mark.timeout(120)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _embedded_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "fresh" / "data", database_url=database_url)


def test_enqueue_sends_the_job_id_to_the_gpu_queue_and_records_it(
    tmp_path: Path, worker_db_url: str, factory: sessionmaker[Session], make_job
) -> None:
    app = make_celery(_embedded_settings(tmp_path, worker_db_url))
    job_id = make_job()
    assert load_job(factory, job_id).enqueued_at is None

    assert JobQueue(factory, app=app).enqueue(job_id) is True

    assert load_job(factory, job_id).enqueued_at is not None
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(GPU_QUEUE)
        try:
            message = queue.get(timeout=10)
            args, kwargs, _ = message.decode()
            assert message.headers["task"] == RUN_JOB_TASK
            assert (args, kwargs) == ([job_id], {})
            message.ack()
        finally:
            queue.close()


def test_enqueue_leaves_the_job_to_the_reconciler_when_the_broker_is_down(
    tmp_path: Path, worker_db_url: str, factory: sessionmaker[Session], make_job
) -> None:
    # Nothing listens on port 1: the send fails fast (no result backend is contacted).
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=worker_db_url,
        broker_url="redis://127.0.0.1:1/0",
        result_backend="redis://127.0.0.1:1/0",
    )
    job_id = make_job()

    assert JobQueue(factory, settings).enqueue(job_id) is False

    job = load_job(factory, job_id)
    assert job.status == "queued" and job.enqueued_at is None


def test_a_send_is_recorded_only_while_the_job_is_queued(factory: sessionmaker[Session], make_job) -> None:
    sent: list[str] = []
    queue = JobQueue(factory, send=sent.append)
    job_id = make_job()
    assert queue.enqueue(job_id) is True
    first = load_job(factory, job_id).enqueued_at
    assert sent == [job_id] and first is not None

    with session_scope(factory) as session:
        assert claim_job(session, job_id, "w1") is not None
    assert queue.enqueue(job_id) is True  # a stale running job is sent again (the reconciler's case) ...
    assert sent == [job_id, job_id] and load_job(factory, job_id).enqueued_at == first  # ... but not recorded


def test_a_failed_send_is_logged_without_the_brokers_url(
    factory: sessionmaker[Session], make_job, caplog: pytest.LogCaptureFixture
) -> None:
    def down(_: str) -> None:
        raise ConnectionError("cannot reach redis://:hunter2@broker:6379/0")

    job_id = make_job()
    assert JobQueue(factory, send=down).enqueue(job_id) is False
    assert load_job(factory, job_id).enqueued_at is None
    assert "reconciler" in caplog.text and "hunter2" not in caplog.text


def test_importing_the_queue_loads_no_celery(tmp_path: Path) -> None:
    """The API builds its JobQueue at startup: Celery is imported on the first send, not before."""
    code = "import sys, worker.queue\nheavy = [m for m in ('celery', 'torch') if m in sys.modules]\nassert not heavy, heavy\n"
    env = {**os.environ, "RADIS_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_queue_needs_a_transport(factory: sessionmaker[Session]) -> None:
    with pytest.raises(ValueError, match="settings, a Celery app or a send function"):
        JobQueue(factory)
