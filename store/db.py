"""Engines and sessions for Postgres (production) and SQLite (embedded).

Unit-of-work rule (as in polar's ``postgres.py``): repositories take a :class:`~sqlalchemy.orm.Session`
and only ``flush()``; whoever opened the session decides, with :func:`session_scope`, to commit on
success or roll back on error. A job is enqueued only after that commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

#: How long a SQLite writer waits for another writer before failing (the API and the worker share the file).
SQLITE_BUSY_TIMEOUT_S = 30


def normalise_url(url: str | URL) -> URL:
    """Parse ``url``; plain ``postgresql://`` / ``postgres://`` URLs get the psycopg 3 driver."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: str | URL) -> bool:
    """True for any SQLite URL."""
    return normalise_url(url).get_backend_name() == "sqlite"


def make_engine(url: str | URL, *, echo: bool = False, **kwargs: Any) -> Engine:
    """Create an engine configured for the service's access pattern.

    SQLite: usable from several threads, write-ahead log (readers do not block the writer), foreign keys
    enforced, and a busy timeout so the API and the worker wait for each other instead of failing. The
    folder of a file database is created. Postgres: psycopg 3 and ``pool_pre_ping`` (a restarted server
    must not break the next request). Extra ``kwargs`` go to :func:`sqlalchemy.create_engine`.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _make_sqlite_engine(parsed, echo=echo, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, echo=echo, **kwargs)


def _make_sqlite_engine(url: URL, *, echo: bool, **kwargs: Any) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
    if in_memory:
        # One shared connection, or every pooled connection would see its own empty database.
        kwargs.setdefault("poolclass", StaticPool)
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                # NORMAL is durable across application crashes in WAL mode and much faster than FULL.
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        finally:
            cursor.close()

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Session factory. Objects stay readable after commit (the API returns them after committing)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block succeeds, roll back when it raises, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
