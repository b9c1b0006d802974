"""One fine-tuning job, end to end: data → rationales → LoRA training → evaluation → export.

This is the library's entry point for programs (the worker, the CLI). It takes a typed
:class:`~radis_core.config.JobSpec`, reports progress through ``on_event``, polls ``should_cancel``
between units of work, and returns a :class:`~radis_core.events.JobResult`. It writes only inside
``spec.output_dir`` (results) and ``spec.work_dir`` (checkpoints) and the shared cache.
"""

from __future__ import annotations

import gc
import hashlib
import random
import time
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from radis_core.config import SEPARATOR, JobSpec
from radis_core.corpus import Pair, load_corpus
from radis_core.events import (
    CancelCheck,
    EventCallback,
    JobCancelled,
    JobResult,
    ProgressEvent,
    never_cancel,
    no_events,
)


class CorpusRejected(ValueError):
    """The training or validation file has errors; ``report`` says which lines."""

    def __init__(self, which: str, report: Any) -> None:
        first = report.first_error  # its message already starts with "line N:"
        super().__init__(f"{which} file is invalid: {first.message if first else 'no usable pairs'}")
        self.which = which
        self.report = report


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _load_pairs(path: Path, which: str, spec: JobSpec) -> list[Pair]:
    # A handful of held-out pairs is a valid (if noisy) evaluation set; training needs the default minimum.
    minimum = {"min_examples": 1} if which == "validation" else {}
    pairs, report = load_corpus(path, src_lang=spec.src_lang, tgt_lang=spec.tgt_lang, **minimum)
    if not report.ok or not pairs:
        raise CorpusRejected(which, report)
    return pairs


def split_holdout(pairs: Sequence[Pair], fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """Seeded split into (train, held out); at least one pair stays on each side."""
    idx = list(range(len(pairs)))
    random.Random(seed).shuffle(idx)
    n_hold = min(max(1, round(len(pairs) * fraction)), len(pairs) - 1)
    held = set(idx[:n_hold])
    return [p for i, p in enumerate(pairs) if i not in held], [p for i, p in enumerate(pairs) if i in held]


def _translate_pairs(chat: Any, pairs: Sequence[Pair], template: str, max_new_tokens: int) -> list[str]:
    """Translate pairs grouped by language pair; outputs in input order."""
    from radis_core.evaluation.translation import extract_translation

    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        groups[(p.src_lang, p.tgt_lang)].append(i)
    out = [""] * len(pairs)
    for (src, tgt), idx in groups.items():
        texts = chat.translate([pairs[i].source for i in idx], src_lang=src, tgt_lang=tgt, template=template, max_new_tokens=max_new_tokens)
        for i, t in zip(idx, texts):
            out[i] = extract_translation(t)
    return out


def run_job(spec: JobSpec, on_event: EventCallback = no_events, should_cancel: CancelCheck = never_cancel) -> JobResult:
    """Run one RaDis (or supervised) fine-tuning job; see the module docstring."""
    from radis_core import hyperparams
    from radis_core.chat_model import HFChatModel
    from radis_core.dataset import build_examples
    from radis_core.evaluation.report import build_report, render_markdown
    from radis_core.evaluation.retention import compare, run_benchmarks
    from radis_core.evaluation.translation import comet_scores, translation_scores
    from radis_core.export import export_adapter, export_merged, write_json_atomic
    from radis_core.models import default_cache_dir, load_model, resolve_model
    from radis_core.rationale_cache import RationaleCache
    from radis_core.rationales import generate_rationales
    from radis_core.training import attach_lora, train

    timings: dict[str, float] = {}
    t_job = time.perf_counter()
    out_dir = Path(spec.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(spec.cache_dir) if spec.cache_dir else default_cache_dir()
    work_dir = Path(spec.work_dir) if spec.work_dir else out_dir / "work"
    hyperparams.validate(spec.hyperparameters)
    # Fail before any model is loaded if a template names a placeholder that does not exist.
    from radis_core.prompts import fill_template

    for template in (spec.translation_template, spec.rationale.template):
        fill_template(template, source="", src_lang="en", tgt_lang="de")

    def emit(stage: str, message: str, **kw: Any) -> None:
        on_event(ProgressEvent(stage, message, **kw))

    def check_cancel() -> None:
        if should_cancel():
            raise JobCancelled("cancel requested")

    # --- data -------------------------------------------------------------------------------
    t0 = time.perf_counter()
    pairs = _load_pairs(Path(spec.train_file), "training", spec)
    if spec.valid_file:
        train_pairs, held_out = pairs, _load_pairs(Path(spec.valid_file), "validation", spec)
    else:
        train_pairs, held_out = split_holdout(pairs, spec.evaluation.holdout_fraction, spec.seed)
    eval_pairs = held_out[: spec.evaluation.max_eval_pairs]
    lang_pairs = Counter(f"{p.src_lang}-{p.tgt_lang}" for p in train_pairs)
    emit("validating", f"{len(train_pairs)} training pairs, {len(eval_pairs)} held out for evaluation",
         data={"train_pairs": len(train_pairs), "eval_pairs": len(eval_pairs), "language_pairs": dict(lang_pairs)})

    # --- model ------------------------------------------------------------------------------
    resolved = resolve_model(spec.model, cache_dir)
    model, tokenizer = load_model(resolved, device=spec.device, dtype=spec.dtype)
    timings["load_seconds"] = time.perf_counter() - t0
    emit("loading_model", f"Loaded {spec.model} ({resolved.kind}, fingerprint {resolved.fingerprint[:12]})",
         data={"fingerprint": resolved.fingerprint, "parameters": sum(p.numel() for p in model.parameters())})
    check_cancel()

    # --- rationales (RaDis only) ------------------------------------------------------------
    rationale_texts: list[str | None] | None = None
    rationale_stats: dict[str, Any] = {"method": spec.method, "used": spec.method == "radis"}
    samples: list[dict[str, Any]] = []
    if spec.method == "radis":
        t0 = time.perf_counter()
        emit("generating_rationales", f"Generating rationales for {len(train_pairs)} pairs", done=0, total=len(train_pairs))
        teacher, teacher_tok, teacher_fp = model, tokenizer, resolved.fingerprint
        if spec.rationale.rationale_model:
            t_res = resolve_model(spec.rationale.rationale_model, cache_dir)
            teacher, teacher_tok = load_model(t_res, device=spec.device, dtype=spec.dtype)
            teacher_fp = t_res.fingerprint
        run = generate_rationales(
            teacher, teacher_tok, train_pairs, spec.rationale,
            model_fingerprint=teacher_fp, cache=RationaleCache(cache_dir / "rationales.sqlite"), seed=spec.seed,
            on_progress=lambda d, t: emit("generating_rationales", f"Rationales {d}/{t}", type="metrics",
                                          data={"rationales_done": d, "rationales_total": t}, done=d, total=t),
            should_cancel=should_cancel,
        )
        if teacher is not model:
            del teacher, teacher_tok
            gc.collect()
        rationale_texts = [r.text if r.kept else None for r in run.items]
        rationale_stats.update(run.stats())
        samples = [
            {"source": r.pair.source, "reference": r.pair.target, "rationale": r.text, "kept": r.kept,
             "reason": r.reason, "detail": r.detail, "cached": r.cached, "line": r.pair.line}
            for r in run.items
        ]
        timings["rationale_seconds"] = time.perf_counter() - t0
        emit("generating_rationales", f"Rationales ready: {run.generated} generated, {run.cached} from cache, "
             f"{sum(run.rejected.values())} rejected", data=run.stats())
    check_cancel()

    # --- training ---------------------------------------------------------------------------
    t0 = time.perf_counter()
    examples, build = build_examples(
        tokenizer, train_pairs, method=spec.method, template=spec.translation_template,
        max_seq_len=spec.hyperparameters.max_seq_len, rationales=rationale_texts,
    )
    hp = hyperparams.resolve(spec.hyperparameters, n_examples=len(examples))
    emit("training", f"Training {hp.max_steps} steps on {len(examples)} examples", data={"hyperparameters": asdict(hp), "data": asdict(build)},
         done=0, total=int(hp.max_steps))  # type: ignore[arg-type]
    model = attach_lora(model, hp, spec.seed)
    result = train(model, examples, hp, seed=spec.seed, pad_id=int(tokenizer.pad_token_id),
                   checkpoint_dir=work_dir / "checkpoints", on_event=on_event, should_cancel=should_cancel)
    timings["train_seconds"] = time.perf_counter() - t0
    check_cancel()

    # --- evaluation: the same weights with the adapter off (base) and on (tuned) -------------
    t0 = time.perf_counter()
    ev = spec.evaluation
    chat = HFChatModel(model, tokenizer, batch_size=ev.batch_size)
    references = [p.target for p in eval_pairs]
    sources = [p.source for p in eval_pairs]

    # Evaluation progress in units: per model, the translation pass and each benchmark pass
    # (ifeval, math, safety, general answers, drift); the tuned model may skip "general".
    eval_total = 2 * (1 + (5 if ev.retention else 0))
    finished: set[tuple[str, str]] = set()

    def unit_done(label: str, unit: str) -> None:
        finished.add((label, unit))
        done = min(len(finished), eval_total - 1)  # the last unit is reported when evaluation ends
        emit("evaluating", f"{label} model: {unit} done", type="metrics",
             data={"eval_done": done, "eval_total": eval_total}, done=done, total=eval_total)

    def progress(label: str, bench: str, done: int, total: int) -> None:
        check_cancel()  # raising here stops the benchmark run between batches
        if done >= total:
            unit_done(label, bench)

    def evaluate(label: str, reference_answers: Any = None) -> tuple[dict[str, Any], Any]:
        emit("evaluating", f"Evaluating the {label} model")
        hyps = _translate_pairs(chat, eval_pairs, spec.translation_template, ev.max_new_tokens)
        unit_done(label, "translation")
        tgt = eval_pairs[0].tgt_lang if eval_pairs else None
        scores = translation_scores(hyps, references, target_lang=tgt)
        comet = comet_scores(sources, hyps, references, ev.comet_model, gpus=1 if str(device).startswith("cuda") else 0)
        scores["samples"] = [{"source": s, "reference": r, "hypothesis": h} for s, r, h in list(zip(sources, references, hyps))[:5]]
        check_cancel()
        bench = None
        if ev.retention:
            bench = run_benchmarks(chat, max_items=ev.max_probe_items, max_new_tokens=ev.max_new_tokens, probe_dir=ev.probe_dir,
                                   reference_answers=reference_answers,
                                   batch_size=ev.batch_size, on_progress=lambda name, d, t: progress(label, name, d, t))
        check_cancel()
        return scores, comet, bench

    device = next(model.parameters()).device
    with model.disable_adapter():
        base_scores, base_comet, base_bench = evaluate("base")
    tuned_scores, tuned_comet, tuned_bench = evaluate("tuned", reference_answers=base_bench.general_answers if base_bench else None)
    retention = compare(base_bench, tuned_bench, ev.min_retention) if base_bench and tuned_bench else None
    emit("evaluating", "Evaluation done", type="metrics", data={"eval_done": eval_total, "eval_total": eval_total},
         done=eval_total, total=eval_total)
    timings["eval_seconds"] = time.perf_counter() - t0

    # --- export -----------------------------------------------------------------------------
    t0 = time.perf_counter()
    emit("exporting", "Exporting the adapter")
    timings["total_seconds"] = time.perf_counter() - t_job
    training_summary = {
        "steps": result.steps, "trained_tokens": result.trained_tokens, "final_loss": result.losses[-1] if result.losses else None,
        "first_loss": result.losses[0] if result.losses else None, "losses": result.losses,
        "resumed_from": result.resumed_from, "tokens_per_second": round(result.tokens_per_second, 1),
        "padding_share": round(result.padding_share, 4), "examples": asdict(build), "hyperparameters": asdict(hp),
    }
    report = build_report(
        translation_base=base_scores, translation_tuned=tuned_scores, comet_base=base_comet, comet_tuned=tuned_comet,
        retention=retention, rationale_stats=rationale_stats, training=training_summary, timings=timings,
        meta={"model": spec.model, "method": spec.method, "seed": spec.seed, "fingerprint": resolved.fingerprint,
              "train_pairs": len(train_pairs), "eval_pairs": len(eval_pairs)},
    )
    # A few side-by-side translations make the numbers readable.
    report["translation"]["samples"] = [
        {"source": b["source"], "reference": b["reference"], "base": b["hypothesis"], "tuned": t["hypothesis"]}
        for b, t in zip(base_scores["samples"], tuned_scores["samples"])
    ]
    data_hash = {"train_sha256": _sha256_file(Path(spec.train_file)),
                 "valid_sha256": _sha256_file(Path(spec.valid_file)) if spec.valid_file else None}
    meta = {
        "base_model": spec.model, "base_model_path": resolved.path if resolved.kind == "hub" else None,
        "base_model_fingerprint": resolved.fingerprint, "method": spec.method, "seed": spec.seed,
        "hyperparameters": asdict(hp), "rationale": asdict(spec.rationale), "separator": SEPARATOR,
        "translation_template": spec.translation_template, "data": data_hash,
        "metrics": {"base": {k: base_scores.get(k) for k in ("bleu", "chrf")}, "tuned": {k: tuned_scores.get(k) for k in ("bleu", "chrf")},
                    "retention_overall": (retention or {}).get("overall")},
        "language_pairs": dict(lang_pairs),
    }
    adapter_dir = export_adapter(model, out_dir / "adapter", meta)
    merged_dir = export_merged(model, tokenizer, out_dir / "merged") if spec.export_merged else None
    write_json_atomic(out_dir / "report.json", report)
    (out_dir / "report.md").write_text(render_markdown(report), encoding="utf-8")
    if samples:
        import json

        with open(out_dir / "rationales.jsonl", "w", encoding="utf-8") as f:
            for s in samples:
                f.write(json.dumps(s, ensure_ascii=False) + "\n")
    timings["export_seconds"] = time.perf_counter() - t0
    emit("exporting", f"Adapter written to {adapter_dir}", data={"adapter_dir": str(adapter_dir)})
    return JobResult(
        adapter_dir=adapter_dir, report_path=out_dir / "report.json", report=report,
        trained_tokens=result.trained_tokens, steps=result.steps, rationale_samples=samples[:20], merged_dir=merged_dir,
    )
