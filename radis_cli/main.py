"""``radis``: run the service (embedded or against Postgres/Redis), manage keys, and run the demo.

- ``radis serve``   API + a real Celery worker process; with no configuration, the embedded default
                    (SQLite database, SQLite-backed Celery broker) — the same code path as production.
- ``radis api`` / ``radis worker``   the two processes separately (production: Postgres + Redis).
- ``radis migrate`` schema to head (Alembic).
- ``radis keys create|list|revoke``  API keys (stored hashed).
- ``radis projects show|set``  a project's storage quota, job wall-time budget and usage.
- ``radis demo``    the README's first command: a RaDis job on SmolLM2 through the HTTP API.
- ``radis login|files|jobs|adapters|models``  the client of a running service, over HTTP
                    (:mod:`radis_cli.commands`; exit codes in :mod:`radis_cli.client`).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from radis_cli.commands import projects as projects_commands
from radis_cli.commands import register as register_client_commands

app = typer.Typer(help="RaDis fine-tuning service.", no_args_is_help=True)


def _print_version(value: bool) -> None:
    if value:
        from radis_core import __version__

        print(f"radis {__version__}")
        raise typer.Exit()


@app.callback()
def radis(
    base_url: str | None = typer.Option(
        None, "--base-url", help="The service's address for the client commands (over RADIS_BASE_URL and `radis login`'s)."
    ),
    api_key: str | None = typer.Option(
        None, "--api-key", help="The API key for the client commands (over RADIS_API_KEY and `radis login`'s)."
    ),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """RaDis fine-tuning service: run it (serve, api, worker, migrate, keys, projects) or use it (login, files, jobs, adapters, models)."""
    from radis_cli.client import set_global_options

    set_global_options(base_url, api_key)


keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(projects_commands.app, name="projects")
register_client_commands(app)
console = Console()


def _settings():
    from store.settings import get_settings

    s = get_settings()
    s.ensure_dirs()
    return s


def _sessionmaker(settings):
    from store.db import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(settings.database_url))


@app.command()
def migrate(as_json: bool = typer.Option(False, "--json", help="Print the database and its revision as JSON.")) -> None:
    """Bring the database schema to the newest migration."""
    from store.migrate import head_revision, upgrade
    from store.settings import redacted

    s = _settings()
    upgrade(s.database_url)
    if as_json:
        print(json.dumps({"database": redacted(s.database_url), "revision": head_revision()}))
        return
    console.print(f"database at head: {redacted(s.database_url)}")


@app.command()
def serve(host: str | None = None, port: int | None = None) -> None:
    """API and worker together. With no RADIS_* configuration: SQLite + SQLite broker under ./radis-data.

    The worker stops with this command however it ends (SIGINT, SIGTERM, even SIGKILL: it hands its job
    back after the current step), and a second `radis serve` on the same data folder refuses to start."""
    import uvicorn

    from api.server import uvicorn_options
    from radis_cli import service
    from store.migrate import upgrade
    from store.settings import redacted

    s = _settings()
    try:
        lock = service.hold_worker_lock(s.data_dir)
    except service.WorkerLockHeld as exc:
        console.print(f"[red]radis serve: {exc}[/]")
        raise typer.Exit(1) from None
    service.exit_on_sigterm()
    procs: list[subprocess.Popen] = []
    try:
        upgrade(s.database_url)
        console.print(
            f"[bold]radis serve[/] database {redacted(s.database_url)}, broker {redacted(s.broker_url)}"
            f"{' (embedded)' if s.embedded else ''}"
        )
        env = dict(
            os.environ,
            RADIS_DATA_DIR=str(s.data_dir),
            RADIS_DATABASE_URL=s.database_url,
            RADIS_BROKER_URL=s.broker_url,
            RADIS_RESULT_BACKEND=s.result_backend,
            RADIS_CACHE_DIR=str(s.cache_dir),
        )
        procs = service.start_worker_processes(env, pass_fds=[lock])
        uvicorn.run(
            "api.main:create_app",
            factory=True,
            host=host or s.api_host,
            port=port or s.api_port,
            log_level="info",
            **uvicorn_options(),
        )
    finally:
        service.stop(procs)
        service.release_worker_lock(lock)


@app.command("api")
def api_cmd(host: str | None = None, port: int | None = None, workers: int = 1) -> None:
    """The HTTP API alone (run `radis migrate` first)."""
    import uvicorn

    from api.server import uvicorn_options

    s = _settings()
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host or s.api_host,
        port=port or s.api_port,
        workers=workers,
        **uvicorn_options(),
    )


@app.command("worker")
def worker_cmd(
    concurrency: int = 1,
    gpus: str | None = typer.Option(
        None, help="Devices to use, e.g. 0,1: one worker process per device (CUDA_VISIBLE_DEVICES), one job at a time each."
    ),
) -> None:
    """The Celery worker on the gpu queue, and the reconciler beside it. SIGTERM (`docker stop`) drains:
    the running job finishes its step, checkpoints and goes back to the queue, then the command exits 0."""
    from radis_cli import service

    devices: list[str] = []
    if gpus is not None:
        try:
            devices = service.parse_gpus(gpus)
        except ValueError as exc:
            console.print(f"[red]radis worker: {exc}[/]")
            raise typer.Exit(2) from None
        if concurrency != 1:
            console.print("[red]radis worker: --gpus runs one job per device; leave --concurrency at 1[/]")
            raise typer.Exit(2)
    s = _settings()
    service.exit_on_sigterm()
    procs: list[subprocess.Popen] = []
    try:
        procs = service.start_worker_processes(
            dict(os.environ, RADIS_DATA_DIR=str(s.data_dir)), concurrency=concurrency, gpus=devices
        )
        while all(p.poll() is None for p in procs):
            time.sleep(1)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        service.stop(procs)
    raise typer.Exit(service.exit_code(procs))


@keys_app.command("create")
def keys_create(
    project: str = typer.Option("default", help="Project name (created if new)."),
    name: str = typer.Option("cli", help="A label for the key."),
    as_json: bool = typer.Option(False, "--json", help="Print {id, project, name, key} as JSON."),
) -> None:
    """Create an API key; the secret is printed once and only its hash is stored."""
    from store.db import session_scope
    from store.keys import create_key
    from store.migrate import upgrade
    from store.projects import get_or_create_project

    s = _settings()
    upgrade(s.database_url)
    with session_scope(_sessionmaker(s)) as session:
        proj = get_or_create_project(session, project)
        secret, key = create_key(session, proj.id, name)
        key_id = key.id
    if as_json:
        print(json.dumps({"id": key_id, "project": project, "name": name, "key": secret}))
        return
    console.print(f"key id {key_id} for project {project}")
    print(secret)


@keys_app.command("list")
def keys_list(project: str = typer.Option("default"), as_json: bool = typer.Option(False, "--json")) -> None:
    """List a project's keys (prefixes only)."""
    from store.db import session_scope
    from store.keys import list_keys
    from store.projects import get_project_by_name

    s = _settings()
    with session_scope(_sessionmaker(s)) as session:
        proj = get_project_by_name(session, project)
        if proj is None:
            console.print(f"[red]no project named {project}[/]")
            raise typer.Exit(1)
        rows = [
            {
                "id": k.id,
                "name": k.name,
                "prefix": k.prefix,
                "created_at": str(k.created_at),
                "revoked_at": str(k.revoked_at) if k.revoked_at else None,
            }
            for k in list_keys(session, proj.id)
        ]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("id", "name", "prefix", "created", "revoked")
    for r in rows:
        table.add_row(r["id"], r["name"], r["prefix"], r["created_at"], r["revoked_at"] or "")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, as_json: bool = typer.Option(False, "--json", help="Print {id, revoked} as JSON.")) -> None:
    """Revoke a key; requests with it fail at once."""
    from store.db import session_scope
    from store.keys import revoke_key

    s = _settings()
    with session_scope(_sessionmaker(s)) as session:
        revoke_key(session, key_id)
    if as_json:
        print(json.dumps({"id": key_id, "revoked": True}))
        return
    console.print(f"revoked {key_id}")


@app.command()
def demo(
    out: Path = typer.Option(Path("radis-demo"), help="Where the adapter, report and demo data go."),
    method: str = typer.Option("radis", help="radis, supervised, sdft or seqkd (`radis settings` lists their settings)."),
    port: int = typer.Option(0, help="API port (0 = a free one)."),
    model: str = typer.Option("smollm2-135m-instruct"),
    pairs: int = typer.Option(80, min=8, max=170, help="Training pairs of the demo corpus (held-out pairs stay 20)."),
    lang: str = typer.Option("de", help="Target language of the English→X demo corpus: de, cs, ru or zh."),
    sets: list[str] = typer.Option([], "--set", help="A setting over the demo's, SECTION.KEY=VALUE (repeatable)."),
) -> None:
    """Start the embedded service, upload the en→de demo corpus (Django's translations), run a job over HTTP, save the adapter."""
    from radis_cli.demo import DEMO_LANGS, DEMO_SETTINGS, run_demo
    from radis_core.settings import SettingsError, merged_sections, method_settings, parse_assignments

    if lang not in DEMO_LANGS:
        raise typer.BadParameter(f"{lang!r} is not one of {', '.join(DEMO_LANGS)}", param_hint="--lang")
    try:
        settings = merged_sections(DEMO_SETTINGS, dotted=parse_assignments(sets, "--set"))
        method_settings(method, settings, f"method.{method}")  # refused here, before anything starts
    except (SettingsError, KeyError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--set/--method") from None
    raise typer.Exit(
        run_demo(out=out, method=method, port=port, model=model, console=console, n_train=pairs, lang=lang, settings=settings)
    )


if __name__ == "__main__":
    app()
