"""Fixtures for the fault tests: real processes that the tests kill or restart.

- the worker fixtures (tests/worker/conftest.py): a committed Postgres database per module, the tiny
  model, ``make_job``;
- ``redis_db_url``: a Redis database of its own (tests/worker/test_celery_worker.py), flushed after;
- :class:`ThrowawayPostgres`: a Postgres cluster of the test's own (``initdb`` into a temporary folder,
  run as the ``postgres`` user on a free port), so a test may stop and restart it without touching the
  machine's shared server;
- :func:`api_process`: ``uvicorn api.main:create_app --factory`` in its own process group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from glob import glob
from pathlib import Path

import pytest
from sqlalchemy import text

from radis_cli.demo import free_port, stop_process_group, wait_ready
from store.db import make_engine
from store.migrate import upgrade
from store.settings import Settings
from tests.worker.conftest import (  # noqa: F401 - fixtures re-exported for this package
    artifacts,
    factory,
    make_job,
    model_cache_dir,
    tiny_model_dir,
    worker_db_url,
    worker_engine,
    worker_settings,
)
from tests.worker.test_celery_worker import redis_db_url  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[2]


def _pg_bin(name: str) -> str:
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail(f"{name} not found under /usr/lib/postgresql/*/bin: the Postgres server package is needed")
    return found[-1]


class ThrowawayPostgres:
    """A private Postgres cluster: ``start``, ``stop``, ``restart`` it freely; removed at the end."""

    def __init__(self) -> None:
        # Not pytest's tmp_path: the postgres user must be able to enter the folder.
        self.root = Path(tempfile.mkdtemp(prefix="radis-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.log = self.root / "server.log"
        os.chmod(self.root, 0o755)
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.server_url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        if self._as_postgres:
            command = ("runuser", "-u", "postgres", "--", *command)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", action, *extra)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        # fast: active sessions are cut, as a crash or a restart for an upgrade would cut them.
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def create_database(self, name: str = "radis") -> str:
        """A migrated database; returns its URL."""
        admin = make_engine(self.server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"
        upgrade(url)
        return url

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A started private Postgres cluster, stopped and deleted after the test."""
    cluster = ThrowawayPostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


def service_env(settings: Settings) -> dict[str, str]:
    """The environment that makes an API or worker process read ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADIS_")}
    env.update(
        RADIS_DATA_DIR=str(settings.data_dir),
        RADIS_DATABASE_URL=settings.database_url,
        RADIS_BROKER_URL=settings.broker_url,
        RADIS_RESULT_BACKEND=settings.result_backend,
        RADIS_CACHE_DIR=str(settings.cache_dir),
        RADIS_MAX_UPLOAD_BYTES=str(settings.max_upload_bytes),
        RADIS_ALLOW_LOCAL_MODELS="true" if settings.allow_local_models else "false",
    )
    return env


@contextmanager
def api_process(settings: Settings, log_path: Path, port: int | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run the API with ``settings`` on a free loopback port until the block ends; yields (base URL, process)."""
    port = port or free_port()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO_ROOT,
            env=service_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process, timeout=60)
        yield base, process
    finally:
        stop_process_group(process)


def wait_for(condition, timeout: float = 120.0, what: str = "condition", interval: float = 0.1):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
