"""One fine-tuning job, end to end, as a recipe: data → model → rationales → training → evaluation → export.

This is the library's entry point for programs (the worker, the CLI). It takes a typed
:class:`~radis_core.config.JobSpec`, reports typed events through ``on_event``, polls
``should_cancel`` between units of work, and returns a :class:`~radis_core.events.JobResult`. It
writes only inside ``spec.output_dir`` (results), ``spec.work_dir`` (checkpoints) and the cache.
Each step is a function with typed inputs and outputs; :func:`run_job` reads top to bottom.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from radis_core.config import JobSpec
from radis_core.dtype import ResolvedDtype, resolve_dtype
from radis_core.evaluation.base_cache import BaseEvalCache
from radis_core.evaluation.before_after import Evaluation, evaluate_before_after
from radis_core.events import (
    CancelCheck,
    EventCallback,
    JobResult,
    Note,
    TrainingStarted,
    never_cancel,
    no_events,
    stage_started,
)
from radis_core.job_data import CorpusRejected, JobData, load_job_data
from radis_core.results import Trained, adapter_meta, write_samples
from radis_core.run_context import RunContext
from radis_core.settings import rationale_of, resolve
from radis_core.targets_step import Targets, draw_targets

__all__ = ["CorpusRejected", "run_job"]


def run_job(spec: JobSpec, on_event: EventCallback = no_events, should_cancel: CancelCheck = never_cancel) -> JobResult:
    """Run one fine-tuning job of any method (radis, supervised, sdft, seqkd); see the module docstring."""
    run = RunContext(on_event, should_cancel)
    _check_templates(spec)  # before any model is loaded

    with run.timed("load_seconds"):
        data = load_job_data(spec)
        run.emit(
            Note(
                "validating",
                f"{len(data.train_pairs)} training pairs, {len(data.eval_pairs)} held out for evaluation",
                {"train_pairs": len(data.train_pairs), "eval_pairs": len(data.eval_pairs), "language_pairs": data.language_pairs},
            )
        )
        model, tokenizer, source = load_base_model(spec, run)
    run.check_cancel()

    with run.timed("rationale_seconds"):  # the teacher's generation, whatever the method generates
        targets = draw_targets(spec, spec.settings, data, model, tokenizer, source.fingerprint, run)
    run.check_cancel()

    with run.timed("train_seconds"):
        trained = train_adapter(spec, data, model, tokenizer, targets, run)
    run.check_cancel()

    with run.timed("eval_seconds"):
        evaluation = evaluate_before_after(
            trained.model,
            tokenizer,
            data.eval_pairs,
            spec.translation_template,
            spec.evaluation,
            run,
            cache=BaseEvalCache(_cache_dir(spec) / "base_evaluations"),
            fingerprint=source.fingerprint,
        )

    with run.timed("export_seconds"):
        return export_results(spec, data, source, trained, tokenizer, targets, evaluation, run)


def _check_templates(spec: JobSpec) -> None:
    from radis_core.prompts import fill_template

    # The settings contract already refused unknown placeholders; this also catches a template that
    # fills to something the prompt builder cannot use.
    rationale = rationale_of(spec.settings)
    for template in (spec.translation_template, *([rationale.template] if rationale else [])):
        fill_template(template, source="", src_lang="en", tgt_lang="de")


def load_base_model(spec: JobSpec, run: RunContext) -> tuple[Any, Any, Any]:
    """The base model, its tokenizer, and where it came from (a :class:`~radis_core.models.ResolvedModel`)."""
    from radis_core.models import load_model, resolve_model

    source = resolve_model(spec.model, _cache_dir(spec))
    dtype = base_dtype(spec)
    model, tokenizer = load_model(source, device=spec.device, dtype=dtype.name)
    run.emit(
        Note(
            "loading_model",
            f"Loaded {spec.model} ({source.kind}, fingerprint {source.fingerprint[:12]}) in {dtype.name} ({dtype.reason})",
            {
                "fingerprint": source.fingerprint,
                "parameters": sum(p.numel() for p in model.parameters()),
                "dtype": dtype.name,
                "dtype_reason": dtype.reason,
            },
        )
    )
    return model, tokenizer, source


def base_dtype(spec: JobSpec) -> ResolvedDtype:
    """The dtype the job's base weights are loaded in on this machine, and why (``hyperparameters.dtype`` resolved)."""
    from radis_core.models import pick_device

    return resolve_dtype(spec.dtype, pick_device(spec.device))


def _cache_dir(spec: JobSpec) -> Path:
    from radis_core.models import default_cache_dir

    return Path(spec.cache_dir) if spec.cache_dir else default_cache_dir()


def train_adapter(spec: JobSpec, data: JobData, model: Any, tokenizer: Any, targets: Targets, run: RunContext) -> Trained:
    """Tokenise the targets of the job's method, resolve "auto" from them, LoRA-train (resuming from the newest checkpoint)."""
    from radis_core.dataset import build_examples
    from radis_core.training import attach_lora, train

    examples, build = build_examples(
        tokenizer,
        data.train_pairs,
        method=spec.method,
        template=spec.translation_template,
        max_seq_len=spec.hyperparameters.max_seq_len,
        targets=targets.targets,
    )
    hp = resolve(spec.hyperparameters, n_examples=len(examples), dtype=base_dtype(spec))
    # Held-out pairs scored on their reference translations (radis_core.step_metrics), whatever the method.
    valid_examples, _ = build_examples(
        tokenizer,
        data.eval_pairs,
        method="supervised",
        template=spec.translation_template,
        max_seq_len=spec.hyperparameters.max_seq_len,
    )
    run.emit(TrainingStarted(hp, asdict(build)))
    model = attach_lora(model, hp, spec.seed)
    work_dir = Path(spec.work_dir) if spec.work_dir else Path(spec.output_dir) / "work"
    result = train(
        model,
        examples,
        hp,
        seed=spec.seed,
        pad_id=int(tokenizer.pad_token_id),
        checkpoint_dir=work_dir / "checkpoints",
        on_event=run.on_event,
        should_cancel=run.should_cancel,
        valid_examples=valid_examples,
    )
    return Trained(model=model, hyperparameters=hp, result=result, examples=asdict(build))


def export_results(
    spec: JobSpec,
    data: JobData,
    source: Any,
    trained: Trained,
    tokenizer: Any,
    targets: Targets,
    evaluation: Evaluation,
    run: RunContext,
) -> JobResult:
    """Write the adapter (and merged model if asked), the report and the rationales into ``spec.output_dir``."""
    from radis_core.evaluation.report import build_report, render_markdown
    from radis_core.export import export_adapter, export_merged, write_json_atomic
    from radis_core.step_metrics import write_metrics_csv

    run.emit(stage_started("exporting"))
    out_dir = Path(spec.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run.timings["total_seconds"] = time.perf_counter() - run.started
    report = build_report(
        translation_base=evaluation.base.translation,
        translation_tuned=evaluation.tuned.translation,
        comet_base=evaluation.base.comet,
        comet_tuned=evaluation.tuned.comet,
        retention=evaluation.retention,
        rationale_stats=targets.stats,
        training=trained.summary(),
        timings=dict(run.timings),
        meta={
            "model": spec.model,
            "method": spec.method,
            "seed": spec.seed,
            "fingerprint": source.fingerprint,
            "dtype": trained.hyperparameters.dtype,
            "dtype_reason": trained.hyperparameters.dtype_reason,
            "train_pairs": len(data.train_pairs),
            "eval_pairs": len(data.eval_pairs),
            "base_evaluation": "reused from an earlier job (base-evaluation cache)" if evaluation.base.cached else "computed",
            "translation_template": spec.translation_template,
            "settings": spec.settings.model_dump(mode="json", exclude={"hyperparameters"}),
        },
    )
    report["translation"]["samples"] = evaluation.side_by_side_samples()
    adapter_dir = export_adapter(
        trained.model, out_dir / "adapter", adapter_meta(spec, source, data, trained, evaluation), report
    )
    merged_dir = export_merged(trained.model, tokenizer, out_dir / "merged") if spec.export_merged else None
    write_json_atomic(out_dir / "report.json", report)
    (out_dir / "report.md").write_text(render_markdown(report), encoding="utf-8")
    metrics_path = write_metrics_csv(out_dir / "metrics.csv", trained.result.history)
    samples_path = out_dir / targets.samples_file if targets.samples_file else None
    if samples_path is not None:
        write_samples(samples_path, targets.samples)
    run.emit(Note("exporting", f"Adapter written to {adapter_dir}", {"adapter_dir": str(adapter_dir)}))
    return JobResult(
        adapter_dir=adapter_dir,
        report_path=out_dir / "report.json",
        report=report,
        trained_tokens=trained.result.trained_tokens,
        steps=trained.result.steps,
        rationale_samples=targets.samples[:20],
        samples_path=samples_path,
        metrics_path=metrics_path,
        merged_dir=merged_dir,
    )
