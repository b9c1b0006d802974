"""``radis jobs create|list|show|watch|events|cancel|pause|resume|report|checkpoints``.

Commands that follow a job (``create --watch``, ``watch``, ``events --follow``) exit with the job's
outcome: 0 succeeded, 3 failed, 4 cancelled (see :mod:`radis_cli.client` for every code).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from radis_cli.client import ApiClient, CLIError, exit_code_for_status, follow_events
from radis_cli.commands.common import JSON_OPTION, api, duration, err, method_of, out, print_json, when
from radis_cli.commands.files import upload_file
from radis_cli.progress import watch as watch_job
from radis_core import settings as settings_contract

app = typer.Typer(help="Create, follow and cancel fine-tuning jobs.", no_args_is_help=True)

JOBS = "/v1/fine_tuning/jobs"


def parse_assignments(items: list[str], option: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (see :func:`radis_core.settings.parse_assignments`), refused as a CLI error."""
    try:
        return settings_contract.parse_assignments(items, option)
    except settings_contract.SettingsError as exc:
        raise CLIError(str(exc)) from None


def parse_settings(raw: str | None) -> dict[str, Any]:
    """``--settings``: a JSON object, or ``@path`` to a file holding one."""
    try:
        return settings_contract.parse_settings_json(raw)
    except settings_contract.SettingsError as exc:
        raise CLIError(str(exc)) from None


def file_id(client: ApiClient, value: str) -> str:
    """A file id as given, or the id of a local file uploaded (validated first) for the job."""
    path = Path(value)
    if value.startswith("file-") and not path.exists():
        return value
    if not path.is_file():
        raise CLIError(f"{value}: neither a file id (file-...) nor a local file")
    return upload_file(client, path)["id"]


def finish(client: ApiClient, job_id: str, as_json: bool) -> None:
    """Watch the job to its end, print the outcome, exit with its code."""
    job = watch_job(client.http, job_id, err if as_json else out)
    if as_json:
        print_json(job)
    else:
        outcome(job)
    raise typer.Exit(exit_code_for_status(job["status"]))


def outcome(job: dict[str, Any]) -> None:
    """One line on how the job ended."""
    if job["status"] == "succeeded":
        out.print(
            f"[green]succeeded[/] {job['id']}: {job['fine_tuned_model']} ({job.get('trained_tokens')} tokens, {duration(job)})"
        )
    elif job["status"] == "failed":
        error = job.get("error") or {}
        out.print(f"[red]failed[/] {job['id']}: {error.get('code')}: {error.get('message')}")
    else:
        out.print(f"[yellow]{job['status']}[/] {job['id']}")


@app.command("create")
def create(
    model: str = typer.Option(..., "--model", "-m", help="Base model (see `radis models`)."),
    training_file: str = typer.Option(..., "--training-file", "-t", help="A file id, or a local corpus to upload."),
    validation_file: str | None = typer.Option(None, "--validation-file", "-v", help="A file id or a local corpus."),
    method: str = typer.Option(
        "radis", "--method", help="radis, supervised, sdft or seqkd; `radis settings` lists each one's settings."
    ),
    suffix: str | None = typer.Option(None, help="Part of the fine-tuned model's name."),
    seed: int | None = typer.Option(None, help="Random seed."),
    hp: list[str] = typer.Option([], "--hp", help="A hyperparameter, KEY=VALUE (repeatable): --hp n_epochs=2 --hp lora_rank=8."),
    settings: str | None = typer.Option(
        None, "--settings", help="Method settings as JSON or @file: hyperparameters, rationale, evaluation."
    ),
    metadata: list[str] = typer.Option([], "--metadata", help="KEY=VALUE stored with the job (repeatable)."),
    idempotency_key: str | None = typer.Option(
        None, "--idempotency-key", help="Retrying with the same key returns the same job."
    ),
    follow: bool = typer.Option(False, "--watch", help="Show live progress until the job ends; exit with its outcome."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a fine-tuning job (local corpus files are validated and uploaded first)."""
    with api() as client:
        if method not in settings_contract.METHODS:
            raise CLIError(f"--method: expected one of {', '.join(settings_contract.METHODS)}, got {method!r}")
        section = parse_settings(settings)
        hyperparameters = {**(section.get("hyperparameters") or {}), **parse_assignments(hp, "--hp")}
        if hyperparameters:
            section["hyperparameters"] = hyperparameters
        body: dict[str, Any] = {
            "model": model,
            "training_file": file_id(client, training_file),
            "method": {"type": method, method: section},
        }
        if validation_file:
            body["validation_file"] = file_id(client, validation_file)
        for name, value in (("suffix", suffix), ("seed", seed)):
            if value is not None:
                body[name] = value
        if metadata:
            body["metadata"] = {k: str(v) for k, v in parse_assignments(metadata, "--metadata").items()}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        job = client.post(JOBS, json=body, headers=headers)
        if follow:
            err.print(f"job {job['id']} ({method} on {model}) {job['status']}")
            finish(client, job["id"], as_json)
    if as_json:
        print_json(job)
    else:
        out.print(f"created {job['id']} ({method} on {model}), status {job['status']}. Follow it: radis jobs watch {job['id']}")


@app.command("list")
def list_jobs(limit: int = typer.Option(20, min=1, max=100), as_json: bool = JSON_OPTION) -> None:
    """The project's jobs, newest first."""
    with api() as client:
        data = client.get(JOBS, limit=limit)["data"]
    if as_json:
        print_json(data)
        return
    table = Table("id", "status", "stage", "progress", "model", "method", "created", "duration", title="Fine-tuning jobs")
    for job in data:
        table.add_row(
            job["id"],
            job["status"],
            job.get("stage") or "",
            f"{job['progress']:.0%}",
            job["model"],
            method_of(job),
            when(job["created_at"]),
            duration(job),
        )
    out.print(table)


def _report_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    translation = report.get("translation") or {}
    for key, label in (("bleu", "BLEU"), ("chrf", "chrF++")):
        if isinstance(translation.get(key), dict):
            entry = translation[key]
            rows.append(
                (
                    label,
                    f"{entry['base']:.2f}",
                    f"{entry['tuned']:.2f}",
                    f"{entry['delta']:+.2f}" if entry.get("delta") is not None else "",
                )
            )
    comet = translation.get("comet") or {}
    if comet.get("available"):
        rows.append(("COMET", f"{comet['base']['score']:.4f}", f"{comet['tuned']['score']:.4f}", f"{comet['delta']:+.4f}"))
    overall = ((report.get("retention") or {}).get("overall") or {}).get("retention")
    if isinstance(overall, (int, float)):
        rows.append(("overall retention (tuned / base)", "1.00", f"{overall:.2f}", ""))
    return rows


@app.command("show")
def show(job_id: str, as_json: bool = JSON_OPTION) -> None:
    """One job: status, stage, settings; for a finished one, the before/after scores."""
    with api() as client:
        job = client.get(f"{JOBS}/{job_id}")
        report = client.get(f"{JOBS}/{job_id}/report") if job["status"] == "succeeded" else None
    if as_json:
        print_json({**job, "report": report} if report is not None else job)
        return
    table = Table(show_header=False, title=job["id"])
    for label, value in (
        ("status", job["status"]),
        ("stage", job.get("stage") or ""),
        ("progress", f"{job['progress']:.0%}"),
        ("model", job["model"]),
        ("method", method_of(job)),
        ("fine-tuned model", job.get("fine_tuned_model") or ""),
        ("created", when(job["created_at"])),
        ("duration", duration(job)),
        ("hyperparameters", json.dumps(job["hyperparameters"])),
        ("trained tokens", str(job.get("trained_tokens") or "")),
        ("error", json.dumps(job["error"]) if job.get("error") else ""),
    ):
        table.add_row(label, value)
    out.print(table)
    if report:
        scores = Table("metric", "base", "tuned", "delta", title="Evaluation")
        for row in _report_rows(report):
            scores.add_row(*row)
        out.print(scores)


@app.command("watch")
def watch(job_id: str, as_json: bool = JSON_OPTION) -> None:
    """Live progress (a bar per stage) until the job ends; exits 0/3/4 for succeeded/failed/cancelled."""
    with api() as client:
        finish(client, job_id, as_json)


@app.command("events")
def events(
    job_id: str,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new events until the job ends (SSE)."),
    as_json: bool = typer.Option(False, "--json", help="JSON: an array, or one object per line with --follow."),
) -> None:
    """The job's events, oldest first; with --follow, new ones as they happen, exiting with the job's outcome."""
    with api() as client:
        if not follow:
            data = client.all_events(job_id)
            if as_json:
                print_json(data)
            else:
                for event in data:
                    out.print(_event_line(event))
            return
        for kind, item in follow_events(client.http, job_id):
            if kind == "end":
                if not as_json:
                    outcome(item)
                raise typer.Exit(exit_code_for_status(item["status"]))
            if as_json:
                print(json.dumps(item, ensure_ascii=False), flush=True)
            else:
                out.print(_event_line(item))


def _event_line(event: dict[str, Any]) -> str:
    level = event["level"]
    style = {"error": "red", "warn": "yellow"}.get(level, "dim")
    return f"[{style}]{when(event['created_at'])} {level:5}[/] {event['message']}"


@app.command("cancel")
def cancel(job_id: str, as_json: bool = JSON_OPTION) -> None:
    """Cancel a job (a running one stops at its next step)."""
    with api() as client:
        job = client.post(f"{JOBS}/{job_id}/cancel")
    if as_json:
        print_json(job)
    else:
        out.print(f"{job['id']}: {job['status']}" + (" (stopping at the next step)" if job["status"] == "running" else ""))


@app.command("report")
def report(job_id: str, as_json: bool = JSON_OPTION) -> None:
    """A succeeded job's evaluation report: translation scores and retention, base vs tuned."""
    with api() as client:
        body = client.get(f"{JOBS}/{job_id}/report")
    if as_json:
        print_json(body)
        return
    scores = Table("metric", "base", "tuned", "delta", title=f"Evaluation of {job_id}")
    for row in _report_rows(body):
        scores.add_row(*row)
    out.print(scores)


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


@app.command("checkpoints")
def checkpoints(job_id: str, as_json: bool = JSON_OPTION) -> None:
    """The job's checkpoints, newest step first, with their metrics."""
    with api() as client:
        data = client.get(f"{JOBS}/{job_id}/checkpoints", limit=100)["data"]
    if as_json:
        print_json(data)
        return
    table = Table("step", "model", "train loss", "valid loss", "valid token acc.", "created", title=f"Checkpoints of {job_id}")
    for checkpoint in data:
        metrics = checkpoint.get("metrics") or {}
        table.add_row(
            str(checkpoint["step_number"]),
            checkpoint["fine_tuned_model_checkpoint"],
            _number(metrics.get("train_loss")),
            _number(metrics.get("valid_loss")),
            _number(metrics.get("valid_mean_token_accuracy")),
            when(checkpoint["created_at"]),
        )
    out.print(table)


@app.command("pause")
def pause(job_id: str, as_json: bool = JSON_OPTION) -> None:
    """Pause a job: a queued one at once, a running one at its next step (with a checkpoint); resume it later."""
    with api() as client:
        job = client.post(f"{JOBS}/{job_id}/pause")
    if as_json:
        print_json(job)
    else:
        out.print(f"{job['id']}: {job['status']}" + (" (pausing at the next step)" if job["status"] == "running" else ""))


@app.command("resume")
def resume(job_id: str, as_json: bool = JSON_OPTION) -> None:
    """Resume a paused job: it is queued again and continues from its last checkpoint on any worker."""
    with api() as client:
        job = client.post(f"{JOBS}/{job_id}/resume")
    if as_json:
        print_json(job)
    else:
        out.print(f"{job['id']}: {job['status']}")
