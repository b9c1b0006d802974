"""Projects: the tenants that own keys, files and jobs."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from store.errors import AlreadyExists, NotFound
from store.models import Project


def create_project(
    session: Session,
    name: str,
    *,
    max_concurrent_jobs: int | None = None,
    max_storage_bytes: int | None = None,
) -> Project:
    """Create a project named ``name`` (unique); limits left ``None`` fall back to the settings."""
    name = name.strip()
    if not name:
        raise ValueError("project name: must not be empty")
    for field, value in (("max_concurrent_jobs", max_concurrent_jobs), ("max_storage_bytes", max_storage_bytes)):
        if value is not None and value < 0:
            raise ValueError(f"{field}: must be >= 0, got {value}")
    if get_project_by_name(session, name) is not None:
        raise AlreadyExists(f"a project named {name!r} already exists")
    project = Project(name=name, max_concurrent_jobs=max_concurrent_jobs, max_storage_bytes=max_storage_bytes)
    session.add(project)
    session.flush()
    return project


def get_project(session: Session, project_id: str) -> Project:
    """The project with this id; :class:`NotFound` otherwise."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("project", project_id)
    return project


def get_project_by_name(session: Session, name: str) -> Project | None:
    """The project with this exact name, if any."""
    return session.scalars(select(Project).where(Project.name == name.strip())).one_or_none()


def get_or_create_project(session: Session, name: str) -> Project:
    """The project named ``name``, created when missing (used to bootstrap a deployment's first key)."""
    return get_project_by_name(session, name) or create_project(session, name)


def max_concurrent_jobs(project: Project, default: int) -> int:
    """The project's active-job limit: its own when set, else the deployment's ``default``."""
    return project.max_concurrent_jobs if project.max_concurrent_jobs is not None else default


def job_wall_time_s(project: Project, default: int, ceiling: int, requested: int | None = None) -> int:
    """A new job's wall-time budget: ``requested`` (a caller's, per job), else the project's own default,
    else the deployment's ``default``; never above ``ceiling`` (``Settings.max_job_wall_time_s``)."""
    chosen = requested or project.job_wall_time_s or default
    return min(chosen, ceiling)


def job_token_budget(project: Project, default: int, ceiling: int, requested: int | None = None) -> int:
    """A new job's token budget: ``requested`` (a caller's, per job), else the project's own default,
    else the deployment's ``default``; never above ``ceiling`` (``Settings.max_job_token_budget``)."""
    chosen = requested or project.job_token_budget or default
    return min(chosen, ceiling)


def set_limits(session: Session, project: Project, **limits: int | None) -> Project:
    """Set the project's own limits (``max_concurrent_jobs``, ``max_storage_bytes``, ``job_wall_time_s``,
    ``job_token_budget``); ``None`` returns a limit to the deployment's default."""
    budgets = ("job_wall_time_s", "job_token_budget")
    for field, value in limits.items():
        if field not in ("max_concurrent_jobs", "max_storage_bytes", *budgets):
            raise ValueError(f"unknown project limit {field!r}")
        least = 1 if field in budgets else 0
        if value is not None and value < least:
            raise ValueError(f"{field}: must be >= {least}, got {value}")
        setattr(project, field, value)
    session.flush()
    return project


def lock_project(session: Session, project_id: str) -> None:
    """Serialise quota checks of one project until the caller's transaction ends.

    A no-op UPDATE rather than ``SELECT … FOR UPDATE`` because it works on both databases: on Postgres it
    takes the project's row lock; on SQLite it starts the write transaction at once, so a check and the
    insert that follows it cannot interleave with another writer's. Raises :class:`NotFound`.
    """
    # An UPDATE's result is a CursorResult (it has rowcount); Session.execute is typed for any statement.
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(Project).where(Project.id == project_id).values(name=Project.name),
            execution_options={"synchronize_session": False},
        ),
    )
    if result.rowcount == 0:
        raise NotFound("project", project_id)
