"""The Celery app's configuration, on a real embedded (SQLite) broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from store.settings import Settings
from worker.app import (
    EMBEDDED_BROKER_TRANSPORT,
    GPU_QUEUE,
    RUN_JOB_TASK,
    ensure_result_folder,
    make_celery,
)

pytestmark = pytest.mark.timeout(120)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _embedded_settings(tmp_path: Path, database_url: str) -> Settings:
    # Broker and result backend default to SQLite files under data_dir (a folder that does not exist yet).
    return Settings(data_dir=tmp_path / "fresh" / "data", database_url=database_url)


def test_make_celery_configures_long_jobs_one_per_child(tmp_path: Path, worker_db_url: str) -> None:
    settings = _embedded_settings(tmp_path, worker_db_url)
    app = make_celery(settings)
    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert (conf.worker_prefetch_multiplier, conf.worker_max_tasks_per_child) == (1, 1)
    assert conf.task_routes[RUN_JOB_TASK] == {"queue": GPU_QUEUE}
    assert (conf.task_serializer, conf.result_serializer, list(conf.accept_content)) == ("json", "json", ["json"])
    assert conf.broker_connection_retry_on_startup
    # The embedded broker: Kombu's SQLAlchemy transport, polling every half second.
    assert conf.broker_url == f"sqlite:///{settings.data_dir / 'broker.db'}"
    assert conf.broker_transport == EMBEDDED_BROKER_TRANSPORT
    with app.connection_for_write() as connection:
        assert connection.transport.polling_interval <= 0.5
    assert "worker.tasks" in conf.include
    # Nothing on disk until the first connection, which makes the broker's folder (a fresh machine can send).
    assert not settings.data_dir.exists()
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)
    assert settings.data_dir.is_dir()


def test_importing_the_app_loads_no_ml_library(tmp_path: Path) -> None:
    """The job queue imports worker.app to send (in the API process too): it must stay free of torch and friends."""
    code = (
        "import sys, worker.app\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'radis_core.pipeline') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "RADIS_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "data").exists()  # and it creates nothing on disk


def test_the_worker_makes_the_folder_of_a_sqlite_result_backend(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", result_backend=f"db+sqlite:///{tmp_path / 'results' / 'r.db'}")
    ensure_result_folder(settings)
    assert (tmp_path / "results").is_dir()
