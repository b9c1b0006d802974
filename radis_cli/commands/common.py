"""What every client command shares: the API client, error reporting with exit codes, output helpers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

from radis_cli.client import ApiClient, CLIError, resolve_connection

#: Tables and bars; errors and progress of --json commands go to stderr so stdout stays parseable.
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

JSON_OPTION = typer.Option(False, "--json", help="Print the API's JSON instead of a table.")


@contextmanager
def api() -> Iterator[ApiClient]:
    """An API client from options/env/config; any :class:`CLIError` inside ends the command with its code."""
    try:
        with ApiClient(resolve_connection()) as client:
            yield client
    except CLIError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(exc.exit_code) from None


@contextmanager
def reported() -> Iterator[None]:
    """Turn a :class:`CLIError` raised outside :func:`api` into a message and its exit code."""
    try:
        yield
    except CLIError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(exc.exit_code) from None


def print_json(value: Any) -> None:
    """JSON on stdout, nothing else (for scripts)."""
    print(json.dumps(value, indent=2, ensure_ascii=False))


def when(unix: int | None) -> str:
    """A unix time as local ``YYYY-MM-DD HH:MM:SS`` ('' for none)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unix)) if unix else ""


def duration(job: dict[str, Any]) -> str:
    """How long the job ran (until now while it is active)."""
    end = job.get("finished_at") or (None if job["status"] in ("succeeded", "failed", "cancelled") else time.time())
    if not end:
        return ""
    minutes, seconds = divmod(int(end - job["created_at"]), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def method_of(job: dict[str, Any]) -> str:
    return (job.get("method") or {}).get("type", "")
