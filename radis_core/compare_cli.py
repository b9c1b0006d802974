"""``radis-core compare``: the methods side by side on one corpus (see :mod:`radis_core.comparison`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markdown import Markdown

console = Console()


def compare(
    train: Path = typer.Option(..., exists=True, dir_okay=False, help="Training corpus, the same for every job."),
    valid: Path = typer.Option(
        ..., exists=True, dir_okay=False, help="Held-out pairs, the same for every job and seed (items are paired)."
    ),
    methods: str = typer.Option("radis,supervised,sdft,seqkd", help="Comma-separated methods; supervised is the reference."),
    seeds: int = typer.Option(2, min=1, max=20, help="Seeds per method: 42, 43, …"),
    first_seed: int = typer.Option(42, min=0),
    model: str = typer.Option("smollm2-135m-instruct", help="Catalogue name, local HF folder, .gguf file or hf:org/name."),
    out: Path = typer.Option(Path("runs/compare"), help="One folder per job, plus comparison.json and comparison.md."),
    hp: list[str] = typer.Option([], "--hp", help="A hyperparameter for every job, KEY=VALUE (repeatable)."),
    sets: list[str] = typer.Option(
        [],
        "--set",
        help="SECTION.KEY=VALUE for every job that has the section (repeatable): --set evaluation.max_probe_items=60.",
    ),
    cache_dir: Path | None = typer.Option(None, help="Model, rationale and base-evaluation cache."),
    device: str = typer.Option("auto"),
) -> None:
    """Run each method with each seed on one corpus and compare them with paired-bootstrap intervals."""
    from radis_core.cli import settings_from_options
    from radis_core.comparison import render_comparison, run_comparison
    from radis_core.config import DEFAULT_TRANSLATION_TEMPLATE, JobSpec
    from radis_core.events import ProgressEvent
    from radis_core.settings import METHODS
    from radis_core.settings.methods import METHOD_SETTINGS

    chosen = [m.strip() for m in methods.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in METHODS]
    if unknown or not chosen:
        raise typer.BadParameter(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}", param_hint="--methods")

    def settings_for(method: str) -> Any:
        # A --set for a section this method does not take (rationale.* for supervised) is left out for it.
        own = set(METHOD_SETTINGS[method].model_fields)
        return settings_from_options(method, None, hp, [s for s in sets if s.split(".", 1)[0] in own])

    specs = {m: settings_for(m) for m in chosen}  # bad settings fail here, before any job runs

    def make_spec(method: str, seed: int, job_dir: Path) -> JobSpec:
        return JobSpec(
            model=model,
            train_file=train,
            valid_file=valid,
            settings=specs[method],
            output_dir=job_dir,
            seed=seed,
            cache_dir=cache_dir,
            device=device,
            translation_template=DEFAULT_TRANSLATION_TEMPLATE,
        )

    started = time.perf_counter()

    def on_event(e: ProgressEvent) -> None:
        if e.type == "message":
            console.print(f"[dim]{e.stage}[/dim] {e.message}")

    comparison = run_comparison(make_spec, chosen, [first_seed + i for i in range(seeds)], out, on_event=on_event)
    console.print(Markdown(render_comparison(comparison)))
    console.print(f"\n[bold green]Comparison:[/] {out / 'comparison.md'} (and comparison.json)")
    console.print(f"Wall time: {time.perf_counter() - started:.0f} s")
