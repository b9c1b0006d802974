"""Engines and sessions for Postgres (production) and SQLite (embedded).

Unit-of-work rule (as in polar's ``postgres.py``): repositories take a :class:`~sqlalchemy.orm.Session`
and only ``flush()``; whoever opened the session decides, with :func:`session_scope`, to commit on
success or roll back on error. A job is enqueued only after that commit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
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
    must not break the next request); with ``ping_after_idle_s``, a connection is pinged only when it has
    been idle in the pool longer than that (:func:`_ping_when_idle`). Extra ``kwargs`` go to
    :func:`sqlalchemy.create_engine`.
    """
    parsed = normalise_url(url)
    ping_after_idle_s = kwargs.pop("ping_after_idle_s", None)
    if parsed.get_backend_name() == "sqlite":
        return _make_sqlite_engine(parsed, echo=echo, **kwargs)
    if ping_after_idle_s is None:
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(parsed, echo=echo, **kwargs)
    engine = create_engine(parsed, echo=echo, **kwargs)
    _ping_when_idle(engine, float(ping_after_idle_s))
    return engine


def _ping_when_idle(engine: Engine, after_s: float) -> None:
    """Check a pooled connection with ``SELECT 1`` at checkout only if it sat unused for over ``after_s``.

    Why: ``pool_pre_ping`` costs a round trip on every checkout, two per API request. A connection that
    was in use a moment ago is almost surely alive; one that sat idle may have outlived a server restart.
    A dead one is replaced before the request sees it (raising ``DisconnectionError`` in the checkout
    event makes the pool discard it and take another). The window left: a restart completed within
    ``after_s`` of a connection's last use; that request fails (the API answers 503 with ``Retry-After``)
    and SQLAlchemy then invalidates every older connection of the pool, so the next requests reconnect.
    """

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["radis_returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("radis_returned_at")  # absent on a fresh connection (info is per connection)
        if returned is None or time.monotonic() - returned < after_s:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            if not dbapi_connection.autocommit:
                dbapi_connection.rollback()  # end the transaction the ping opened
        except Exception as exc:
            raise DisconnectionError(f"a pooled connection idle for over {after_s:g} s did not answer") from exc


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


#: Seconds a pooled connection of the API may sit unused before it is pinged at checkout.
API_PING_AFTER_IDLE_S = 1.0


def api_engine_options(url: str | URL, pool_size: int) -> dict[str, Any]:
    """:func:`make_engine` options for the API: a pool of exactly ``pool_size`` connections, pinged when idle.

    Why a fixed pool: the default keeps 5 connections and opens up to 10 more under load, closing each of
    those as soon as it is returned; under steady load the API opened and closed a Postgres connection (a
    server process, authentication) for most requests. In-memory SQLite keeps its single shared connection.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if (parsed.database or ":memory:").startswith((":memory:", "file::memory:")):
            return {}
        return {"pool_size": pool_size, "max_overflow": 0}
    return {"pool_size": pool_size, "max_overflow": 0, "ping_after_idle_s": API_PING_AFTER_IDLE_S}


def autocommit_sessionmaker(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions like ``factory``'s whose statements each commit on their own (Postgres engines only).

    For short reads: a ``SELECT`` without the ``BEGIN`` and ``COMMIT`` round trips of a transaction. A
    factory bound to anything else (SQLite, a test's connection inside a transaction) is returned as is.
    """
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return factory
    return sessionmaker(bind=bind.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)


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
