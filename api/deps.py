"""Request dependencies, as ``Annotated`` aliases in one place (full-stack-fastapi-template's ``deps.py``).

``SessionDep``: one database session per request that commits when the endpoint succeeds and rolls back
when it raises (polar's ``postgres.py``); it is closed *before* the response is sent
(``scope="function"``), so a failed commit becomes an error response instead of a lost write. Routes
that must act after the commit (enqueue a job, delete a blob) call ``session.commit()`` themselves.
``GET`` and ``HEAD`` only read: their sessions run each statement on its own, without a transaction
(:func:`store.db.autocommit_sessionmaker`: no ``BEGIN``/``COMMIT`` round trips on Postgres).

Dependencies that do no I/O are ``async def``: FastAPI runs every plain ``def`` dependency in its thread
pool, a hop to a thread and back for a dictionary lookup.
``ProjectDep``: the project of the ``Authorization: Bearer <key>`` key, which :mod:`api.admission` checked
before the route ran (401 in OpenAI's envelope otherwise).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from api.errors import AUTHENTICATION, APIError
from api.metrics import Metrics
from store.artifacts import ArtifactStore
from store.db import autocommit_sessionmaker
from store.models import Project
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

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of the ``async with`` block."""
        if self.slots is None:
            yield
            return
        async with self._current():
            yield

    async def admit(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of the dependency that yields from this."""
        async with self.slot():
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
    #: Sessions for requests that only read (``GET``, ``HEAD``): no transaction (see the module docstring).
    read_session_factory: sessionmaker[Session] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.db_gate is None:
            self.db_gate = DatabaseGate.for_factory(self.session_factory)
        if self.read_session_factory is None:
            self.read_session_factory = autocommit_sessionmaker(self.session_factory)


async def get_state(request: Request) -> AppState:
    """The app's shared state."""
    return request.app.state.radis


StateDep = Annotated[AppState, Depends(get_state)]


async def get_settings_dep(state: StateDep) -> Settings:
    """The app's settings."""
    return state.settings


async def get_artifacts(state: StateDep) -> ArtifactStore:
    """The app's artifact store."""
    return state.artifacts


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ArtifactsDep = Annotated[ArtifactStore, Depends(get_artifacts)]


async def _database_slot(state: StateDep) -> AsyncIterator[None]:
    assert state.db_gate is not None
    async for _ in state.db_gate.admit():
        yield


#: Methods whose routes only read: their sessions need no transaction.
READ_METHODS = frozenset({"GET", "HEAD"})


def _finish(session: Session, succeeded: bool) -> None:
    """Commit (or roll back) and close, in one trip to a thread."""
    try:
        if succeeded:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


async def get_session(
    request: Request, state: StateDep, _slot: Annotated[None, Depends(_database_slot, scope="function")]
) -> AsyncIterator[Session]:
    """A session for the request: committed when the endpoint returns, rolled back when it raises.

    It is opened only once the request holds a slot of the app's :class:`DatabaseGate`. Making a session
    does no I/O (its connection is taken at its first statement, in the endpoint's thread), so only the
    end goes to a thread; shielded, so a client that goes away cannot leave the connection checked out."""
    factory = state.read_session_factory if request.method in READ_METHODS else state.session_factory
    assert factory is not None
    session = factory()
    succeeded = False
    try:
        yield session
        succeeded = True
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_finish, session, succeeded)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


@dataclass(frozen=True)
class Authenticated:
    """The caller as :class:`api.admission.AdmissionMiddleware` authenticated it (kept in ``scope["state"]``)."""

    key_id: str
    project: Project


#: Key under which :class:`Authenticated` is kept in the request's state.
AUTH_STATE = "radis_auth"

# Documents the scheme in the OpenAPI document; the key itself is checked by api.admission before the
# route runs (and before its body is read). auto_error=False: a missing header is admission's 401.
_bearer = HTTPBearer(auto_error=False, description="A project API key (sk-radis-…).")


async def get_project_from_key(request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Project:
    """The project that owns the presented key, as :class:`api.admission.AdmissionMiddleware` found it.

    The middleware answers 401 itself for a missing, unknown or revoked key on ``/v1``; a route outside
    ``/v1`` that asks for a project gets 401 here. No session is held for it, so a route that streams
    (an upload) holds no database connection while it waits for the client.
    """
    auth = request.scope.get("state", {}).get(AUTH_STATE)
    if not isinstance(auth, Authenticated):
        raise APIError(
            401,
            "You didn't provide a valid API key. Send it in the Authorization header: 'Authorization: Bearer <key>'.",
            type=AUTHENTICATION,
            code="missing_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return auth.project


async def get_key_id(request: Request, _: Annotated[Project, Depends(get_project_from_key)]) -> str:
    """The id of the caller's key (streams check that it stays live)."""
    return str(request.scope["state"][AUTH_STATE].key_id)


ProjectDep = Annotated[Project, Depends(get_project_from_key)]
KeyIdDep = Annotated[str, Depends(get_key_id)]
