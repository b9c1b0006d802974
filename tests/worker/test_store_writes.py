"""Worker transactions survive a dropped database connection, and do not retry real errors."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from store.projects import create_project
from worker.store_writes import in_transaction, is_transient

pytestmark = pytest.mark.timeout(60)


def test_a_transaction_whose_connection_dies_is_retried_on_a_new_one(factory: sessionmaker[Session]) -> None:
    backends: list[int] = []

    def work(session: Session) -> str:
        backends.append(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        if len(backends) == 1:
            # The server ends this very connection, as a database restart or failover would.
            session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return create_project(session, f"retried-{backends[-1]}").id

    project_id = in_transaction(factory, work)

    assert len(backends) == 2 and backends[0] != backends[1]
    assert (
        in_transaction(
            factory, lambda s: s.execute(text("SELECT count(*) FROM projects WHERE id = :id"), {"id": project_id}).scalar_one()
        )
        == 1
    )


def test_errors_of_the_statement_itself_are_not_retried(factory: sessionmaker[Session]) -> None:
    calls: list[int] = []
    in_transaction(factory, lambda s: create_project(s, "unique-name-for-retry-test"))

    def duplicate(session: Session) -> None:
        calls.append(1)
        session.execute(
            text("INSERT INTO projects (id, name, created_at) VALUES ('proj_x', 'unique-name-for-retry-test', now())")
        )

    with pytest.raises(IntegrityError):
        in_transaction(factory, duplicate)
    assert len(calls) == 1


def test_only_connection_failures_count_as_transient() -> None:
    assert is_transient(OperationalError("SELECT 1", {}, Exception("server closed the connection")))
    assert not is_transient(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_transient(ValueError("bad value"))
