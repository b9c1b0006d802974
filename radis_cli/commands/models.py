"""``radis models [list|delete]``: the base models of the catalogue and the project's fine-tuned models."""

from __future__ import annotations

import typer
from rich.table import Table

from radis_cli.commands.common import JSON_OPTION, api, out, print_json, when

app = typer.Typer(help="List models; delete fine-tuned ones.", invoke_without_command=True)


def list_models(as_json: bool) -> None:
    """Print the models jobs can start from and the fine-tuned models of this project."""
    with api() as client:
        data = client.get("/v1/models")["data"]
    if as_json:
        print_json(data)
        return
    table = Table("id", "owned by", "created", title="Models")
    for model in data:
        table.add_row(model["id"], model["owned_by"], when(model.get("created")))
    out.print(table)


@app.callback()
def models(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List the models jobs can start from and the fine-tuned models of this project (`radis models`)."""
    if ctx.invoked_subcommand is None:
        list_models(as_json)


@app.command("list")
def list_cmd(as_json: bool = JSON_OPTION) -> None:
    """The same list as `radis models`."""
    list_models(as_json)


@app.command("delete")
def delete(model_id: str, as_json: bool = JSON_OPTION) -> None:
    """Delete a fine-tuned model (its adapter goes; the job stays). Base models cannot be deleted."""
    with api() as client:
        body = client.delete(f"/v1/models/{model_id}")
    if as_json:
        print_json(body)
        return
    out.print(f"deleted {body.get('id', model_id)}")
