"""The ``radis`` client commands (they talk to a running service over HTTP): login, files, jobs,
adapters, models, settings. :func:`register` adds them to the ``radis`` app."""

from __future__ import annotations

import typer

from radis_cli.commands import adapters, files, jobs, login, models
from radis_core.cli import settings_cmd


def register(app: typer.Typer) -> None:
    """Add the client commands to ``app``."""
    app.command("login")(login.login)
    app.add_typer(models.app, name="models")
    app.command("settings")(settings_cmd)
    app.add_typer(files.app, name="files")
    app.add_typer(jobs.app, name="jobs")
    app.add_typer(adapters.app, name="adapters")
