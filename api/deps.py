"""Request dependencies, as ``Annotated`` aliases in one place (full-stack-fastapi-template's ``deps.py``).

``SessionDep``: one database session per request that commits when the endpoint succeeds and rolls back
when it raises (polar's ``postgres.py``); it is closed *before* the response is sent
(``scope="function"``), so a failed commit becomes an error response instead of a lost write. Routes
that must act after the commit (enqueue a job, delete a blob) call ``session.commit()`` themselves.
``ProjectDep``: the project of the ``Authorization: Bearer <key>`` key, or 401 in OpenAI's envelope.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from api.errors import AUTHENTICATION, APIError
from api.metrics import Metrics
from store.artifacts import ArtifactStore
from store.db import session_scope
from store.keys import authenticate
from store.models import Project
from store.projects import get_project
from store.settings import Settings
from worker.queue import JobQueue


class DatabaseGate:
    """Admits at most as many requests to a database session as the connection pool has connections.

    Why: a sync endpoint's session keeps its connection until FastAPI has validated the response, and
    that validation waits for a thread of the shared thread pool. In a burst larger than the pool,
    every connection ends up held by a request waiting for a thread while every thread waits for a
    connection; only the pool timeout (30 s, then 503s) breaks it. Requests beyond the pool's size wait
    here instead, on the event loop, holding neither. ``slots=None`` (a pool without a fixed size, such
    as a test's single connection) admits everyone.
    """

    def __init__(self, slots: int | None) -> None:
        self.slots = slots
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def for_factory(cls, factory: sessionmaker[Session]) -> DatabaseGate:
        """A gate as wide as the pool of the engine that ``factory`` binds to."""
        bind = factory.kw.get("bind")
        pool = bind.pool if isinstance(bind, Engine) else None
        if isinstance(pool, QueuePool):
            return cls(pool.size() + max(pool._max_overflow, 0))
        return cls(None)

    def _current(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        # One semaphore per event loop (a test client may run the app on several loops in turn).
        if self._semaphore is None or self._loop is not loop:
            assert self.slots is not None
            self._semaphore, self._loop = asyncio.Semaphore(self.slots), loop
        return self._semaphore

    async def admit(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of the dependency that yields from this."""
        if self.slots is None:
            yield
            return
        async with self._current():
            yield


@dataclass
class AppState:
    """What every request of one app shares (kept on ``app.state.radis``)."""

    settings: Settings
    session_factory: sessionmaker[Session]
    artifacts: ArtifactStore
    #: Sends a committed job to the workers (the one enqueue path, :mod:`worker.queue`).
    queue: JobQueue
    metrics: Metrics
    db_gate: DatabaseGate | None = field(default=None)

    def __post_init__(self) -> None:
        if self.db_gate is None:
            self.db_gate = DatabaseGate.for_factory(self.session_factory)


def get_state(request: Request) -> AppState:
    """The app's shared state."""
    return request.app.state.radis


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings_dep(state: StateDep) -> Settings:
    """The app's settings."""
    return state.settings


def get_artifacts(state: StateDep) -> ArtifactStore:
    """The app's artifact store."""
    return state.artifacts


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ArtifactsDep = Annotated[ArtifactStore, Depends(get_artifacts)]


async def _database_slot(state: StateDep) -> AsyncIterator[None]:
    assert state.db_gate is not None
    async for _ in state.db_gate.admit():
        yield


def get_session(state: StateDep, _slot: Annotated[None, Depends(_database_slot, scope="function")]) -> Iterator[Session]:
    """A session for the request: committed when the endpoint returns, rolled back when it raises.

    It is opened only once the request holds a slot of the app's :class:`DatabaseGate`."""
    with session_scope(state.session_factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

# auto_error=False: a missing or non-Bearer header must get OpenAI's 401 envelope, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="A project API key (sk-radis-…).")


def _unauthorized(message: str, code: str) -> APIError:
    return APIError(401, message, type=AUTHENTICATION, code=code, headers={"WWW-Authenticate": "Bearer"})


def get_project_from_key(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Project:
    """The project that owns the presented key; 401 when it is missing, unknown or revoked.

    The key itself never appears in the answer or in a log line.
    """
    if credentials is None:
        raise _unauthorized(
            "You didn't provide an API key. Send it in the Authorization header: 'Authorization: Bearer <key>'.",
            "missing_api_key",
        )
    key = authenticate(session, credentials.credentials)
    if key is None:
        raise _unauthorized("Incorrect or revoked API key provided.", "invalid_api_key")
    project = get_project(session, key.project_id)
    # End the authentication's transaction now: its connection goes back to the pool while the request
    # waits for a thread to run the endpoint. Held across that wait, a burst of requests larger than
    # the pool would hold every connection while the threads that could use them wait for one (a
    # pool/thread-pool deadlock, broken only by the pool timeout as 503s).
    session.commit()
    return project


ProjectDep = Annotated[Project, Depends(get_project_from_key)]
