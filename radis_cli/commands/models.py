"""``radis models``: the base models of the catalogue and the project's fine-tuned adapters."""

from __future__ import annotations

from rich.table import Table

from radis_cli.commands.common import JSON_OPTION, api, out, print_json, when


def models(as_json: bool = JSON_OPTION) -> None:
    """List the models jobs can start from and the fine-tuned models of this project."""
    with api() as client:
        data = client.get("/v1/models")["data"]
    if as_json:
        print_json(data)
        return
    table = Table("id", "owned by", "created", title="Models")
    for model in data:
        table.add_row(model["id"], model["owned_by"], when(model.get("created")))
    out.print(table)
