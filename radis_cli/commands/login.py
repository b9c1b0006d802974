"""``radis login``: check a key against the server and save it with the server's address."""

from __future__ import annotations

import typer

from radis_cli.client import DEFAULT_BASE_URL, ApiClient, Connection, global_option, save_config
from radis_cli.commands.common import JSON_OPTION, err, out, print_json, reported


def login(
    base_url: str | None = typer.Option(
        None, "--base-url", envvar="RADIS_BASE_URL", help=f"The service's address (default {DEFAULT_BASE_URL})."
    ),
    api_key: str | None = typer.Option(None, "--api-key", envvar="RADIS_API_KEY", help="The key (asked for when absent)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Check the key against the server, then save both in the config file (mode 0600).

    ``radis --base-url … --api-key … login`` works too (radis's own options win over this command's)."""
    # `radis --api-key` comes before this command's environment fallback: it was typed on this command line.
    base_url = global_option("base_url") or base_url or DEFAULT_BASE_URL
    given = global_option("api_key") or api_key
    key = given or typer.prompt("API key", hide_input=True)
    connection = Connection(base_url.rstrip("/"), key.strip())
    with reported():
        with ApiClient(connection) as client:
            models = client.get("/v1/models")["data"]
        path = save_config(connection.base_url, connection.api_key or "")
    if as_json:
        print_json({"base_url": connection.base_url, "models": len(models), "config": str(path)})
        return
    out.print(f"Logged in to {connection.base_url} ({len(models)} models visible). Saved to {path}")
    if given is None:
        err.print("Tip: RADIS_API_KEY and RADIS_BASE_URL override the saved values.")
