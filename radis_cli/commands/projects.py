"""``radis projects show|set``: a project's limits and what it uses (an operator command: it reads the
database directly, like ``radis keys``, not the HTTP API).

Limits a project does not set itself come from the deployment's settings
(``RADIS_MAX_STORAGE_BYTES_PER_PROJECT``, ``RADIS_JOB_WALL_TIME_S``, ``RADIS_MAX_CONCURRENT_JOBS_PER_PROJECT``).
"""

from __future__ import annotations

import json
from typing import Any

import typer

app = typer.Typer(help="Project limits (storage quota, job wall-time budget, active jobs) and usage.", no_args_is_help=True)

#: What ``--… default`` means: the project follows the deployment's setting again.
DEFAULT = "default"


def _limit(value: str | None, option: str) -> tuple[bool, int | None]:
    """``(given, value)`` for an option: an integer, ``default`` (``None``: the deployment's), or absent."""
    if value is None:
        return False, None
    if value == DEFAULT:
        return True, None
    try:
        return True, int(value.replace("_", ""))
    except ValueError:
        raise typer.BadParameter(f"an integer or {DEFAULT!r}, got {value!r}", param_hint=option) from None


def _describe(project_name: str) -> dict[str, Any]:
    from store.db import make_engine, make_sessionmaker, session_scope
    from store.projects import get_project_by_name, job_token_budget, job_wall_time_s, max_concurrent_jobs
    from store.settings import get_settings
    from store.usage import storage_limit, storage_usage

    settings = get_settings()
    with session_scope(make_sessionmaker(make_engine(settings.database_url))) as session:
        project = get_project_by_name(session, project_name)
        if project is None:
            raise typer.BadParameter(f"no project named {project_name!r}", param_hint="PROJECT")
        used = storage_usage(session, project.id)
        return {
            "project": project.name,
            "id": project.id,
            "storage_used_bytes": used.total,
            "storage_in_files_bytes": used.file_bytes,
            "storage_in_job_folders_bytes": used.work_bytes,
            "max_storage_bytes": storage_limit(project, settings.max_storage_bytes_per_project),
            "max_storage_bytes_is_own": project.max_storage_bytes is not None,
            "job_wall_time_s": job_wall_time_s(project, settings.job_wall_time_s, settings.max_job_wall_time_s),
            "job_wall_time_s_is_own": project.job_wall_time_s is not None,
            "job_token_budget": job_token_budget(project, settings.job_token_budget, settings.max_job_token_budget),
            "job_token_budget_is_own": project.job_token_budget is not None,
            "max_concurrent_jobs": max_concurrent_jobs(project, settings.max_concurrent_jobs_per_project),
            "max_concurrent_jobs_is_own": project.max_concurrent_jobs is not None,
        }


@app.command("show")
def show(
    project: str = typer.Argument("default", help="Project name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A project's limits (its own or the deployment's) and the bytes it stores."""
    facts = _describe(project)
    if as_json:
        print(json.dumps(facts))
        return
    for key, value in facts.items():
        if not key.endswith("_is_own"):
            own = facts.get(f"{key}_is_own")
            note = "" if own is None else ("  (project)" if own else "  (deployment default)")
            print(f"{key}: {'none' if value is None else value}{note}")


@app.command("set")
def set_limits(
    project: str = typer.Argument(..., help="Project name."),
    max_storage_bytes: str | None = typer.Option(
        None, "--max-storage-bytes", help="Bytes the project may store (0 = no limit), or 'default'."
    ),
    job_wall_time_s: str | None = typer.Option(
        None, "--job-wall-time-s", help="Wall-time budget of its new jobs in seconds, or 'default'."
    ),
    job_token_budget: str | None = typer.Option(
        None, "--job-token-budget", help="Token budget of its new jobs (generated plus trained), or 'default'."
    ),
    max_concurrent_jobs: str | None = typer.Option(None, "--max-concurrent-jobs", help="Active jobs it may have, or 'default'."),
    as_json: bool = typer.Option(False, "--json", help="Print the project's limits and usage as JSON."),
) -> None:
    """Give a project its own limits ('default' returns one to the deployment's setting)."""
    from store.db import make_engine, make_sessionmaker, session_scope
    from store.projects import get_project_by_name
    from store.projects import set_limits as store_set_limits
    from store.settings import get_settings

    settings = get_settings()
    changes: dict[str, int | None] = {}
    for field, value, option in (
        ("max_storage_bytes", max_storage_bytes, "--max-storage-bytes"),
        ("job_wall_time_s", job_wall_time_s, "--job-wall-time-s"),
        ("job_token_budget", job_token_budget, "--job-token-budget"),
        ("max_concurrent_jobs", max_concurrent_jobs, "--max-concurrent-jobs"),
    ):
        given, number = _limit(value, option)
        if given:
            changes[field] = number
    if not changes:
        raise typer.BadParameter(
            "give at least one of --max-storage-bytes, --job-wall-time-s, --job-token-budget, --max-concurrent-jobs"
        )
    ceiling = settings.max_job_wall_time_s
    if (changes.get("job_wall_time_s") or 0) > ceiling:
        raise typer.BadParameter(f"at most {ceiling} (max_job_wall_time_s)", param_hint="--job-wall-time-s")
    token_ceiling = settings.max_job_token_budget
    if (changes.get("job_token_budget") or 0) > token_ceiling:
        raise typer.BadParameter(f"at most {token_ceiling} (max_job_token_budget)", param_hint="--job-token-budget")
    with session_scope(make_sessionmaker(make_engine(settings.database_url))) as session:
        row = get_project_by_name(session, project)
        if row is None:
            raise typer.BadParameter(f"no project named {project!r}", param_hint="PROJECT")
        try:
            store_set_limits(session, row, **changes)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    show(project, as_json=as_json)
