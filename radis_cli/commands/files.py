"""``radis files upload|list|download|delete``: corpora go up only after the same validation the server runs passes here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from radis_cli.client import ApiClient, CLIError, download_to
from radis_cli.commands.common import JSON_OPTION, api, err, out, print_json, when

app = typer.Typer(help="Upload, list, download and delete files.", no_args_is_help=True)

#: Problems shown in the table; the count of the rest is printed below it.
MAX_ROWS = 50


def validation_table(report: Any, path: Path) -> Table:
    """The validation report as a table: line, severity, code, field, message."""
    table = Table("line", "severity", "code", "field", "message", title=f"{path.name}: {report.summary()}")
    for problem in report.problems[:MAX_ROWS]:
        style = "red" if problem.severity == "error" else "yellow"
        table.add_row(
            str(problem.line or ""), f"[{style}]{problem.severity}[/]", problem.code, problem.field or "", problem.message
        )
    return table


def validate_locally(path: Path) -> Any:
    """Run :func:`radis_core.corpus.validate_corpus` with the server's settings; show problems; refuse errors.

    The server calls it with the upload's filename and its defaults, so what passes here passes there."""
    # Torch-free by contract (the API imports it too): keep the CLI fast.
    from radis_core.corpus import validate_corpus

    if not path.is_file():
        raise CLIError(f"{path}: no such file")
    report = validate_corpus(path, filename=path.name)
    if report.problems:
        err.print(validation_table(report, path))
        if len(report.problems) > MAX_ROWS:
            err.print(f"... and {len(report.problems) - MAX_ROWS} more problems")
    if not report.ok:
        raise CLIError(f"{path}: {report.n_errors} error(s); the server would refuse this file, so nothing was uploaded")
    return report


def upload_file(client: ApiClient, path: Path, purpose: str = "fine-tune") -> dict[str, Any]:
    """Validate ``path`` locally (fine-tune files), then upload it; returns the file object."""
    if purpose == "fine-tune":
        report = validate_locally(path)
        err.print(f"{path.name}: {report.n_pairs} pairs ({report.format}), valid; uploading ...")
    elif not path.is_file():
        raise CLIError(f"{path}: no such file")
    with open(path, "rb") as handle:
        return client.post(
            "/v1/files", files={"file": (path.name, handle, "application/octet-stream")}, data={"purpose": purpose}
        )


@app.command("upload")
def upload(
    path: Path = typer.Argument(..., help="A corpus file (JSONL, chat JSONL, TSV or CSV)."),
    purpose: str = typer.Option("fine-tune", help="The file's purpose."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate the corpus here (a table of problems with line numbers), then upload it."""
    with api() as client:
        body = upload_file(client, path, purpose)
    if as_json:
        print_json(body)
        return
    out.print(
        f"[green]uploaded[/] {body['id']}  {body['filename']}  {body['bytes']} bytes  {body.get('n_examples')} examples  "
        f"sha256 {body['sha256'][:16]}…"
    )


@app.command("list")
def list_files(as_json: bool = JSON_OPTION) -> None:
    """The project's files."""
    with api() as client:
        data = client.get("/v1/files")["data"]
    if as_json:
        print_json(data)
        return
    table = Table("id", "filename", "purpose", "status", "examples", "bytes", "created", title="Files")
    for f in data:
        table.add_row(
            f["id"],
            f["filename"],
            f["purpose"],
            f["status"],
            str(f.get("n_examples") or ""),
            str(f["bytes"]),
            when(f["created_at"]),
        )
    out.print(table)


@app.command("download")
def download(
    file_id: str,
    out_path: Path | None = typer.Option(
        None, "--out", "-o", help="Where to write it (default: the file's own name in this folder; a folder puts it there)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Download a file's content (an upload or a job's result file), its sha256 checked against the server's."""
    with api() as client:
        meta = client.get(f"/v1/files/{file_id}")
        # Only the name's last part: a stored filename never picks a folder on this machine.
        name = Path(meta["filename"]).name or file_id
        dest = (out_path / name if out_path.is_dir() else out_path) if out_path else Path(name)
        digest = download_to(client.http, f"/v1/files/{file_id}/content", dest)
    if as_json:
        print_json({"id": file_id, "path": str(dest), "bytes": dest.stat().st_size, "sha256": digest, "sha256_verified": True})
        return
    out.print(f"[green]downloaded[/] {file_id} → {dest} ({dest.stat().st_size} bytes, sha256 verified)")


@app.command("delete")
def delete(file_id: str, as_json: bool = JSON_OPTION) -> None:
    """Delete a file and its bytes (refused while a queued or running job uses it)."""
    with api() as client:
        body = client.delete(f"/v1/files/{file_id}")
    if as_json:
        print_json(body)
        return
    out.print(f"deleted {body['id']}")
