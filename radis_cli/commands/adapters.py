"""``radis adapters download``: the trained PEFT adapter, with a progress bar and its sha256 checked."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from radis_cli.client import download_adapter
from radis_cli.commands.common import JSON_OPTION, api, err, out, print_json

app = typer.Typer(help="Download trained adapters.", no_args_is_help=True)


@app.command("download")
def download(
    job_id: str,
    out_dir: Path = typer.Option(Path("."), "--out", "-o", help="Folder for <job>-adapter.tar.gz and its unpacked folder."),
    name: str | None = typer.Option(None, help="Archive name (default <job id>-adapter.tar.gz)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Download a succeeded job's adapter, check its sha256 against the server's, unpack it."""
    dest = out_dir / (name or f"{job_id}-adapter.tar.gz")
    with (
        api() as client,
        Progress(TextColumn("[bold]adapter"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=err) as progress,
    ):
        task = progress.add_task("download", total=None)
        folder, digest = download_adapter(
            client.http, job_id, dest, on_progress=lambda done, total: progress.update(task, completed=done, total=total)
        )
    if as_json:
        print_json({"job_id": job_id, "archive": str(dest), "folder": str(folder), "sha256": digest, "sha256_verified": True})
        return
    out.print(f"[green]sha256 verified[/] {digest}\nadapter: {folder}  (PeftModel.from_pretrained(base, {str(folder)!r}))")
