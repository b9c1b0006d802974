"""``radis-core``: run the method without the service (one process, a progress bar per stage)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from radis_core.compare_cli import compare as compare_cmd

if TYPE_CHECKING:
    from radis_core.settings import SupervisedSettings

app = typer.Typer(help="RaDis (Rationale Distillation) fine-tuning, as a library command.", no_args_is_help=True)
console = Console()


def settings_from_options(method: str, settings_json: str | None, hp: list[str], sets: list[str]) -> SupervisedSettings:
    """The method's settings from ``--settings``, ``--hp`` and ``--set``, validated by the contract;
    :class:`typer.BadParameter` naming the setting's path otherwise."""
    from radis_core.settings import (
        METHODS,
        SettingsError,
        merged_sections,
        method_settings,
        parse_assignments,
        parse_settings_json,
    )

    if method not in METHODS:
        raise typer.BadParameter(f"must be one of {', '.join(METHODS)}", param_hint="--method")
    try:
        sections = merged_sections(
            parse_settings_json(settings_json),
            hyperparameters=parse_assignments(hp, "--hp"),
            dotted=parse_assignments(sets, "--set"),
        )
        return method_settings(method, sections)
    except SettingsError as exc:
        raise typer.BadParameter(exc.reason, param_hint=exc.path) from None


@app.command()
def run(
    model: str = typer.Option("smollm2-135m-instruct", help="Catalogue name, local HF folder, .gguf file or hf:org/name."),
    train: Path = typer.Option(..., exists=True, dir_okay=False, help="Training corpus (JSONL/TSV/CSV/chat JSONL)."),
    valid: Path | None = typer.Option(None, exists=True, dir_okay=False, help="Held-out pairs; default: a seeded holdout."),
    method: str = typer.Option(
        "radis",
        help="radis (reference + rationale), supervised (reference), sdft (own rewrite of the reference) or seqkd (teacher translation).",
    ),
    out: Path = typer.Option(Path("runs/latest"), help="Output folder: adapter/, report.json, report.md, rationales.jsonl."),
    seed: int = typer.Option(42, min=0, max=2**31 - 1),
    hp: list[str] = typer.Option(
        [], "--hp", help="A hyperparameter, KEY=VALUE (repeatable): --hp lora_rank=8 --hp n_epochs=2 --hp dtype=bfloat16."
    ),
    sets: list[str] = typer.Option(
        [], "--set", help="Any setting, SECTION.KEY=VALUE (repeatable): --set evaluation.max_probe_items=40."
    ),
    settings_json: str | None = typer.Option(
        None, "--settings", help="The method's sections as JSON or @file.json (as under method.<type> in the API)."
    ),
    translation_template: str | None = typer.Option(
        None, help="Instruction with {source} {src_lang_name} {tgt_lang_name} placeholders."
    ),
    src_lang: str | None = typer.Option(None, help="Source language when the file does not say."),
    tgt_lang: str | None = typer.Option(None, help="Target language when the file does not say."),
    merged: bool = typer.Option(False, help="Also export a merged model (the same as --set output.merged_model=true)."),
    cache_dir: Path | None = typer.Option(None, help="Model and rationale cache (default $RADIS_CACHE_DIR or ~/.cache/radis)."),
    device: str = typer.Option("auto"),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON instead of tables."),
) -> None:
    """Fine-tune MODEL on TRAIN, evaluate base vs tuned, and export a PEFT adapter. `radis-core settings` lists every setting."""
    from radis_core.config import DEFAULT_TRANSLATION_TEMPLATE, JobSpec
    from radis_core.events import ProgressEvent, StepDone
    from radis_core.pipeline import run_job
    from radis_core.settings import SettingsError

    chosen = settings_from_options(method, settings_json, hp, sets)
    try:
        spec = JobSpec(
            model=model,
            train_file=train,
            valid_file=valid,
            settings=chosen,
            output_dir=out,
            seed=seed,
            src_lang=src_lang,
            tgt_lang=tgt_lang,
            cache_dir=cache_dir,
            device=device,
            export_merged=merged or chosen.output.merged_model,
            translation_template=translation_template or DEFAULT_TRANSLATION_TEMPLATE,
        )
    except SettingsError as exc:
        raise typer.BadParameter(exc.reason, param_hint=exc.path) from None
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=json_out or not console.is_terminal and os.environ.get("RADIS_PROGRESS") != "1",
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_event(e: ProgressEvent) -> None:
            if e.total is not None:
                if e.stage not in tasks:
                    tasks[e.stage] = progress.add_task(e.stage.replace("_", " "), total=e.total, info="")
                info = f"loss {e.metrics.train_loss:.3f}" if isinstance(e, StepDone) else ""
                progress.update(tasks[e.stage], completed=e.done or 0, total=e.total, info=info)
            elif e.type == "message" and not json_out:
                progress.console.print(f"[dim]{e.stage}[/dim] {e.message}")

        result = run_job(spec, on_event=on_event)
    if json_out:
        console.print_json(json.dumps(result.report, default=str))
        return
    from radis_core.evaluation.report import render_markdown

    console.print(Markdown(render_markdown(result.report)))
    console.print(f"\n[bold green]Adapter:[/] {result.adapter_dir}")
    console.print(f"[bold green]Report:[/]  {result.report_path} (and report.md)")
    if (out / "rationales.jsonl").exists():
        console.print(f"[bold green]Rationales:[/] {out / 'rationales.jsonl'}")
    console.print(f"Wall time: {time.perf_counter() - started:.0f} s")


def print_settings(out: Console, method: str | None = None, as_json: bool = False) -> None:
    """Every setting with its default, range, unit and help (``method`` narrows the list to one method's)."""
    from radis_core.settings.catalog import all_settings

    infos = [i for i in all_settings() if method is None or method in i.methods]
    if as_json:
        out.print_json(
            json.dumps(
                [
                    {
                        "path": i.path,
                        "types": i.types,
                        "default": i.default,
                        "range": i.range,
                        "unit": i.unit,
                        "help": i.help,
                        "methods": i.methods,
                    }
                    for i in infos
                ]
            )
        )
        return
    from rich.table import Table

    table = Table(title="Job settings (under method.<type> in the API)")
    table.add_column("setting", no_wrap=True)
    table.add_column("default", overflow="fold")
    table.add_column("accepted (unit)")
    table.add_column("help")
    for i in infos:
        default = i.default if not isinstance(i.default, str) or len(i.default) < 24 else i.default[:21] + "..."
        accepted = f"{i.range} ({i.unit})" if i.unit else i.range
        table.add_row(i.path, repr(default) if isinstance(default, str) else str(default), accepted, i.help)
    out.print(table)


@app.command("settings")
def settings_cmd(
    method: str | None = typer.Option(None, help="Only the settings this method takes."),
    as_json: bool = typer.Option(False, "--json", help="As JSON."),
) -> None:
    """List every job setting: default, accepted values, unit and help (one declaration serves every layer)."""
    print_settings(console, method, as_json)


@app.command("demo-data")
def demo_data(
    out: Path = typer.Option(Path("runs/demo-data"), help="Where train.jsonl, valid.jsonl and provenance.json go."),
    lang: str = typer.Option("de", help="Target language (English → X): de, cs, ru or zh."),
    n_train: int = 80,
    n_valid: int = 20,
    seed: int = 0,
) -> None:
    """Write the en→X demo corpus: human translations from Django's gettext catalogues (BSD-3-Clause wheel)."""
    from radis_core.demo_data import build_demo_corpus

    try:
        train_path, valid_path = build_demo_corpus(out, lang=lang, n_train=n_train, n_valid=n_valid, seed=seed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    console.print(f"{train_path}\n{valid_path}\n{out / 'provenance.json'}")


@app.command()
def validate(
    path: Path = typer.Argument(..., exists=True, dir_okay=False), src_lang: str | None = None, tgt_lang: str | None = None
) -> None:
    """Validate a corpus and print its report; exit 1 when it has errors."""
    from radis_core.corpus import validate_corpus

    report = validate_corpus(path, src_lang=src_lang, tgt_lang=tgt_lang)
    console.print_json(json.dumps(report.to_dict(), default=str))
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def models() -> None:
    """List the catalogue."""
    from radis_core.models import CATALOGUE

    for e in CATALOGUE.values():
        console.print(f"[bold]{e.name}[/]  {e.description}  ({e.license}; offline from {e.wheel_requirement})")


app.command("compare")(compare_cmd)

if __name__ == "__main__":
    app()
