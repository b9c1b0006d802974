"""Request dependencies, as ``Annotated`` aliases in one place (full-stack-fastapi-template's ``deps.py``).

``SessionDep``: one database session per request that commits when the endpoint succeeds and rolls back
when it raises (polar's ``postgres.py``); it is closed *before* the response is sent
(``scope="function"``), so a failed commit becomes an error response instead of a lost write. Routes
that must act after the commit (enqueue a job, delete a blob) call ``session.commit()`` themselves.
``ProjectDep``: the project of the ``Authorization: Bearer <key>`` key, or 401 in OpenAI's envelope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from api.errors import AUTHENTICATION, APIError
from api.metrics import Metrics
from store.artifacts import ArtifactStore
from store.keys import authenticate
from store.models import Project
from store.projects import get_project
from store.settings import Settings

#: Sends a job to the worker queue; called only after the job's row is committed.
Enqueue = Callable[[str], None]


@dataclass
class AppState:
    """What every request of one app shares (kept on ``app.state.radis``)."""

    settings: Settings
    session_factory: sessionmaker[Session]
    artifacts: ArtifactStore
    enqueue: Enqueue
    metrics: Metrics


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


def get_session(state: StateDep) -> Iterator[Session]:
    """A session for the request: committed when the endpoint returns, rolled back when it raises."""
    session = state.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


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
    return get_project(session, key.project_id)


ProjectDep = Annotated[Project, Depends(get_project_from_key)]
