"""Fixtures shared by every test package (store, api, worker).

Databases are real: a fresh Postgres database per test session, built by the Alembic migrations (never
``create_all``), and each test runs inside a transaction that is rolled back at the end (polar's
``tests/fixtures/database.py`` pattern; SQLAlchemy 2.0's "join an external transaction" recipe), so
tests see each other's data never and cost no cleanup.

Postgres (127.0.0.1:5432) and Redis (127.0.0.1:6379) must be running when a selected test uses them;
the run stops at once with the command that starts the missing one (no silent skips). Override the
addresses with ``RADIS_TEST_PG_URL`` (a server URL; its database is where ``CREATE DATABASE`` runs)
and ``RADIS_TEST_REDIS_URL``.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from store.artifacts import ArtifactStore
from store.db import make_engine
from store.migrate import upgrade
from store.settings import Settings

PG_SERVER_URL = os.environ.get("RADIS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("RADIS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

#: Fixtures that need each server; a selected test using one of them (directly or through another
#: fixture) makes the session check that server first.
PG_FIXTURES = frozenset({"pg_url", "engine", "db_session", "db_sessionmaker", "make_pg_database", "settings"})
REDIS_FIXTURES = frozenset({"redis_url", "settings"})

_START_HINTS = {
    "Postgres": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": (
        'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no'
        " --dir /var/lib/redis --logfile /var/log/redis/ci.log"
    ),
}


def _reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pytest_collection_finish(session: pytest.Session) -> None:
    """Stop the run before any test when a server that the selected tests need is down."""
    used: set[str] = set()
    for item in session.items:
        used.update(getattr(item, "fixturenames", ()))
    needed = []
    if used & PG_FIXTURES:
        pg = make_url(PG_SERVER_URL)
        needed.append(("Postgres", pg.host or "127.0.0.1", pg.port or 5432))
    if used & REDIS_FIXTURES:
        redis = make_url(REDIS_URL)
        needed.append(("Redis", redis.host or "127.0.0.1", redis.port or 6379))
    down = [(name, host, port) for name, host, port in needed if not _reachable(host, port)]
    if down:
        lines = [
            f"{name} is not reachable at {host}:{port}; start it with:\n    {_START_HINTS[name]}" for name, host, port in down
        ]
        pytest.exit("Test services are down.\n" + "\n".join(lines), returncode=pytest.ExitCode.USAGE_ERROR)


# --- Postgres ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def make_pg_database() -> Iterator[Callable[..., str]]:
    """Factory: ``make_pg_database(migrate=True) -> url`` creates a fresh database ``radis_test_<random>``
    (migrated to head unless ``migrate=False``). Every database made is dropped when the session ends."""
    admin = make_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def create(*, migrate: bool = True) -> str:
        name = f"radis_test_{secrets.token_hex(6)}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        url = make_url(PG_SERVER_URL).set(database=name).render_as_string(hide_password=False)
        if migrate:
            upgrade(url)
        return url

    yield create
    with admin.connect() as connection:
        for name in created:
            # FORCE: a test that leaked a connection must not leave its database behind.
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_url(make_pg_database: Callable[..., str]) -> str:
    """URL of this session's Postgres test database, migrated to head (``alembic upgrade head``)."""
    return make_pg_database()


@pytest.fixture(scope="session")
def engine(pg_url: str) -> Iterator[Engine]:
    """Engine on the session's Postgres test database."""
    eng = make_engine(pg_url)
    yield eng
    eng.dispose()


@pytest.fixture
def _db_connection(engine: Engine) -> Iterator:
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        # Whatever the test committed was only a savepoint inside this transaction.
        transaction.rollback()


@pytest.fixture
def db_sessionmaker(_db_connection) -> sessionmaker[Session]:
    """Session factory whose sessions all join the test's outer transaction: their ``commit()`` releases a
    savepoint, and everything vanishes when the test ends. Hand it to code that calls ``session_scope``."""
    return sessionmaker(bind=_db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def db_session(db_sessionmaker: sessionmaker[Session]) -> Iterator[Session]:
    """A session on the Postgres test database, rolled back after the test (commits included)."""
    session = db_sessionmaker()
    yield session
    session.close()


# --- other services and folders ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the Redis server (checked reachable at session start). Tests namespace their own keys."""
    return REDIS_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite database file in the test's folder, migrated to head (the embedded mode)."""
    url = f"sqlite:///{tmp_path / 'radis.db'}"
    upgrade(url)
    return url


@pytest.fixture
def artifact_store(tmp_path: Path) -> ArtifactStore:
    """An empty artifact store in the test's folder."""
    return ArtifactStore(tmp_path / "artifacts")


@pytest.fixture
def settings(tmp_path: Path, pg_url: str, redis_url: str) -> Settings:
    """Settings for a service under test: the Postgres test database, Redis as broker and result backend,
    data and cache folders inside the test's folder. Note: data written through it is committed."""
    return Settings(
        data_dir=tmp_path / "radis-data",
        database_url=pg_url,
        broker_url=redis_url,
        result_backend=redis_url,
        cache_dir=tmp_path / "cache",
    )
