"""Engines and the unit of work: commit on success, roll back on error, SQLite configured for sharing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from sqlalchemy import Engine, select, text

from store.db import (
    api_engine_options,
    autocommit_sessionmaker,
    make_engine,
    make_sessionmaker,
    normalise_url,
    session_scope,
)
from store.jobs import create_job
from store.models import Project
from store.projects import create_project, get_project_by_name

from .conftest import add_file


def test_plain_postgres_urls_get_psycopg3() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"


def test_session_scope_commits_or_rolls_back(engine: Engine) -> None:
    factory = make_sessionmaker(engine)
    with pytest.raises(RuntimeError), session_scope(factory) as session:
        create_project(session, "scope-rolled-back")
        raise RuntimeError("boom")
    with session_scope(factory) as session:
        assert get_project_by_name(session, "scope-rolled-back") is None
        project = create_project(session, "scope-committed")
    try:
        with session_scope(factory) as session:
            assert get_project_by_name(session, "scope-committed").id == project.id
        assert project.name == "scope-committed"  # readable after commit (expire_on_commit=False)
    finally:
        with session_scope(factory) as session:
            session.delete(session.get(Project, project.id))


def test_sqlite_engine_pragmas(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
    finally:
        engine.dispose()


def test_sqlite_keeps_timestamps_utc_and_enforces_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    factory = make_sessionmaker(engine)
    try:
        moment = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
        with session_scope(factory) as session:
            project = create_project(session, "tz")
            project.created_at = moment
        with session_scope(factory) as session:
            stored = session.scalars(select(Project)).one().created_at
        assert stored == moment and stored.utcoffset() == timedelta(0)

        from sqlalchemy.exc import IntegrityError

        with pytest.raises(IntegrityError), session_scope(factory) as session:
            create_job(session, project_id=project.id, model="m", training_file_id="file-missing")
        with session_scope(factory) as session:
            add_file(session, project.id)
    finally:
        engine.dispose()


def test_naive_datetimes_are_refused(db_session) -> None:
    project = create_project(db_session, "naive")
    project.created_at = datetime(2030, 1, 1)
    with pytest.raises(Exception, match="naive datetime"):
        db_session.flush()


def test_in_memory_sqlite_is_shared_across_sessions() -> None:
    """One in-memory database for every session of the engine (migrated over an open connection)."""
    from alembic import command

    from store.migrate import alembic_config

    engine = make_engine("sqlite://")
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        factory = make_sessionmaker(engine)
        with session_scope(factory) as session:
            create_project(session, "mem")
        with session_scope(factory) as session:
            assert get_project_by_name(session, "mem") is not None
    finally:
        engine.dispose()


def test_an_api_engine_replaces_a_connection_the_server_closed_while_it_sat_idle(pg_url: str) -> None:
    # The API's engine pings only connections idle longer than ping_after_idle_s (0 here: every returned one).
    api_engine = make_engine(pg_url, pool_size=1, max_overflow=0, ping_after_idle_s=0)
    admin = make_engine(pg_url)
    try:
        with api_engine.connect() as connection:
            first_pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as connection:  # as a server restart would: the pooled connection's process ends
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid})
        with api_engine.connect() as connection:
            second_pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert second_pid != first_pid
    finally:
        api_engine.dispose()
        admin.dispose()


def test_api_engine_options_fix_the_pool_and_keep_in_memory_sqlite_shared(pg_url: str) -> None:
    options = api_engine_options(pg_url, 7)
    assert options["pool_size"] == 7 and options["max_overflow"] == 0 and options["ping_after_idle_s"] > 0
    assert api_engine_options("sqlite://", 7) == {}
    engine = make_engine(pg_url, **options)
    try:
        assert engine.pool.size() == 7 and not engine.pool._pre_ping
    finally:
        engine.dispose()


def test_autocommit_sessions_read_without_a_transaction_on_postgres(engine: Engine, db_sessionmaker) -> None:
    reads = autocommit_sessionmaker(make_sessionmaker(engine))
    with session_scope(reads) as session:
        assert session.execute(text("SELECT 1")).scalar_one() == 1
        # After the read, no transaction is open on the server's side: no BEGIN was sent, no COMMIT is due.
        status = session.connection().connection.driver_connection.info.transaction_status
        assert status == psycopg.pq.TransactionStatus.IDLE
    with session_scope(make_sessionmaker(engine)) as session:  # the ordinary sessions still open one
        session.execute(text("SELECT 1"))
        assert session.connection().connection.driver_connection.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    # A factory bound to a test's connection inside a transaction is left as it is.
    assert autocommit_sessionmaker(db_sessionmaker) is db_sessionmaker
