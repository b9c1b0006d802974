"""A real API process for client tests: uvicorn serving ``api.main:create_app`` on a fresh migrated
Postgres database, with a Redis broker database of its own (jobs stay queued: no worker runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from radis_cli.demo import free_port, stop_process_group, wait_ready
from store.db import make_engine, make_sessionmaker, session_scope
from store.keys import create_key
from store.projects import get_or_create_project

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LiveApi:
    """Where the API answers, a key of project ``team-a``, and the process's log."""

    base: str
    key: str
    log: Path
    database_url: str


@contextmanager
def live_api(make_pg_database: Callable[..., str], tmp: Path, *, redis_db: int, **env: str) -> Iterator[LiveApi]:
    """Run the API until the block ends; ``env`` adds ``RADIS_*`` settings (e.g. ``RADIS_LOG_FORMAT``)."""
    broker = f"redis://127.0.0.1:6379/{redis_db}"
    redis.Redis.from_url(broker).flushdb()
    database_url = make_pg_database()
    with session_scope(make_sessionmaker(make_engine(database_url))) as session:
        key, _ = create_key(session, get_or_create_project(session, "team-a").id, "live")
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RADIS_")}
    environment.update(
        RADIS_DATA_DIR=str(tmp / "data"),
        RADIS_DATABASE_URL=database_url,
        RADIS_BROKER_URL=broker,
        RADIS_RESULT_BACKEND=broker,
        **env,
    )
    log_path = tmp / "api.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, process, timeout=60)
        yield LiveApi(base, key, log_path, database_url)
    finally:
        stop_process_group(process)
        redis.Redis.from_url(broker).flushdb()
