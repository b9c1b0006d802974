"""Short store transactions for the worker, retried on transient database errors.

The worker writes progress as it happens, one small transaction per write, so the API sees it at
once. A database restart or a dropped connection must not fail a job that has trained for hours:
each transaction is retried a bounded number of times with exponential backoff. Only errors that
say the connection (not the statement) failed are retried; a constraint violation is raised at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from store.db import session_scope

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Attempts per transaction (the first one included); with the backoff below that is about 20 s.
MAX_ATTEMPTS = 6
#: Backoff: 0.5 s, 1 s, 2 s, 4 s, 8 s, capped at 10 s.
BACKOFF_MULTIPLIER_S = 0.5
BACKOFF_MAX_S = 10.0


def is_transient(exc: BaseException) -> bool:
    """True for database errors worth retrying: operational failures (connection lost, server
    restarting, SQLite busy, serialisation failures) and any error that invalidated the connection."""
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    # The exception class only: SQLAlchemy messages can carry the statement's parameters.
    log.warning(
        "transient database error (%s), retrying (attempt %d of %d)", type(exc).__name__, state.attempt_number, MAX_ATTEMPTS
    )


_retrying = retry(
    retry=retry_if_exception(is_transient),
    stop=stop_after_attempt(MAX_ATTEMPTS),
    wait=wait_exponential(multiplier=BACKOFF_MULTIPLIER_S, max=BACKOFF_MAX_S),
    before_sleep=_log_retry,
    reraise=True,
)


def in_transaction(factory: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in its own transaction (commit on success), retrying transient errors.

    ``work`` must be safe to run again from the start: a failed attempt was rolled back entirely.
    """

    @_retrying
    def attempt() -> T:
        with session_scope(factory) as session:
            return work(session)

    return attempt()
