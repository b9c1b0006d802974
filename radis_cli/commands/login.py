"""``radis login``: check a key against the server and save it with the server's address."""

from __future__ import annotations

import typer

from radis_cli.client import DEFAULT_BASE_URL, ApiClient, Connection, save_config
from radis_cli.commands.common import err, out, reported


def login(
    base_url: str = typer.Option(DEFAULT_BASE_URL, "--base-url", envvar="RADIS_BASE_URL", help="The service's address."),
    api_key: str | None = typer.Option(None, "--api-key", envvar="RADIS_API_KEY", help="The key (asked for when absent)."),
) -> None:
    """Check the key against the server, then save both in the config file (mode 0600)."""
    key = api_key or typer.prompt("API key", hide_input=True)
    connection = Connection(base_url.rstrip("/"), key.strip())
    with reported():
        with ApiClient(connection) as client:
            models = client.get("/v1/models")["data"]
        path = save_config(connection.base_url, connection.api_key or "")
    out.print(f"Logged in to {connection.base_url} ({len(models)} models visible). Saved to {path}")
    if api_key is None:
        err.print("Tip: RADIS_API_KEY and RADIS_BASE_URL override the saved values.")
