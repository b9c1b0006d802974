"""The generation step of a run: what each method's teacher writes for the training pairs.

- ``radis``: the base model (or ``rationale.rationale_model``) explains each reference; the job fails
  before training when fewer than ``rationale.min_rationale_share`` of the pairs keep a rationale.
- ``sdft``: the teacher rewrites each reference in its own words (``rewrite`` section).
- ``seqkd``: the teacher translates each source (``teacher`` section).
- ``supervised``: nothing to generate.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radis_core.config import JobSpec
from radis_core.dataset import TrainingTarget
from radis_core.events import Counted, Note, StageStarted
from radis_core.job_data import JobData
from radis_core.rationale_cache import RationaleCache
from radis_core.run_context import RunContext
from radis_core.settings import RadisSettings, SdftSettings, SeqkdSettings, SupervisedSettings
from radis_core.stages import Phase

#: The per-pair JSON Lines file each generating method writes beside its report.
SAMPLES_FILES = {"radis": "rationales.jsonl", "sdft": "rewrites.jsonl", "seqkd": "teacher_translations.jsonl"}


class TooFewRationales(Exception):
    """A RaDis job kept rationales for too few pairs: trained anyway it would be plain fine-tuning."""

    def __init__(self, kept_share: float, minimum: float, stats: dict[str, Any]) -> None:
        rejected = ", ".join(f"{n} {reason}" for reason, n in sorted(stats.get("rejected", {}).items())) or "none rejected"
        super().__init__(
            f"only {kept_share:.0%} of the training pairs kept a rationale ({stats.get('kept')} of {stats.get('pairs')}; "
            f"{rejected}), below rationale.min_rationale_share = {minimum:.0%}: trained like this the job would be plain "
            "fine-tuning labelled RaDis. Try a stronger rationale_model, a larger rationale.max_new_tokens, or method "
            "'supervised'."
        )
        self.kept_share = kept_share
        self.minimum = minimum


@dataclass(frozen=True)
class Targets:
    """What the generation step produced: one target per training pair (``None``: the reference alone),
    the counts for the report, and the per-pair rows of the method's samples file."""

    targets: list[TrainingTarget | None] | None
    stats: dict[str, Any]
    samples: list[dict[str, Any]]
    samples_file: str | None = None


def draw_targets(
    spec: JobSpec, settings: SupervisedSettings, data: JobData, model: Any, tokenizer: Any, fingerprint: str, run: RunContext
) -> Targets:
    """The teacher's texts for ``spec.method`` (see the module docstring)."""
    if isinstance(settings, RadisSettings):
        return _rationales(spec, settings, data, model, tokenizer, fingerprint, run)
    if isinstance(settings, (SdftSettings, SeqkdSettings)):
        return _teacher_targets(spec, settings, data, model, tokenizer, fingerprint, run)
    return Targets(targets=None, stats={"method": spec.method, "used": False}, samples=[])


def _cache(spec: JobSpec) -> RationaleCache:
    from radis_core.models import default_cache_dir

    return RationaleCache((Path(spec.cache_dir) if spec.cache_dir else default_cache_dir()) / "rationales.sqlite")


def _teacher(spec: JobSpec, reference: str | None, model: Any, tokenizer: Any, fingerprint: str) -> tuple[Any, Any, str]:
    """The base model, or the named teacher loaded beside it."""
    if not reference:
        return model, tokenizer, fingerprint
    from radis_core.models import default_cache_dir, load_model, resolve_model

    source = resolve_model(reference, Path(spec.cache_dir) if spec.cache_dir else default_cache_dir())
    teacher, teacher_tokenizer = load_model(source, device=spec.device, dtype=spec.dtype)
    return teacher, teacher_tokenizer, source.fingerprint


def _progress(run: RunContext, stage: Phase, noun: str) -> Callable[[int, int, int], None]:
    """Generation progress as ``Counted`` events; ``new_tokens`` (this call's, so far) feeds the token budget."""
    key = "rationales" if stage == "generating_rationales" else "targets"
    return lambda d, t, n: run.emit(
        Counted(stage, f"{noun} {d}/{t}", d, t, {f"{key}_done": d, f"{key}_total": t, "new_tokens": n})
    )


def _rationales(
    spec: JobSpec, settings: RadisSettings, data: JobData, model: Any, tokenizer: Any, fingerprint: str, run: RunContext
) -> Targets:
    from radis_core.rationales import generate_rationales

    pairs, rationale = data.train_pairs, settings.rationale
    run.emit(StageStarted("generating_rationales", f"Generating rationales for {len(pairs)} pairs", total=len(pairs)))
    teacher, teacher_tokenizer, teacher_fingerprint = _teacher(spec, rationale.rationale_model, model, tokenizer, fingerprint)
    generated = generate_rationales(
        teacher,
        teacher_tokenizer,
        pairs,
        rationale,
        model_fingerprint=teacher_fingerprint,
        cache=_cache(spec),
        seed=spec.seed,
        translation_template=spec.translation_template,
        on_progress=_progress(run, "generating_rationales", "Rationales"),
        should_cancel=run.should_cancel,
    )
    if teacher is not model:
        del teacher, teacher_tokenizer
        gc.collect()
    stats = {"method": spec.method, "used": True, "prompt": rationale.prompt, **generated.stats()}
    run.emit(
        Note(
            "generating_rationales",
            f"Rationales ready: {generated.generated} generated, {generated.cached} from cache, "
            f"{stats['finished']} finished, {stats['trimmed_to_sentence']} trimmed, "
            f"{sum(generated.rejected.values())} rejected",
            generated.stats(),
        )
    )
    if generated.kept_share < rationale.min_rationale_share:
        raise TooFewRationales(generated.kept_share, rationale.min_rationale_share, stats)
    samples = [
        {
            "source": r.pair.source,
            "reference": r.pair.target,
            "rationale": r.text,
            "kept": r.kept,
            "reason": r.reason,
            "detail": r.detail,
            "finish_reason": r.finish_reason,
            "trimmed": r.trimmed,
            "cached": r.cached,
            "line": r.pair.line,
        }
        for r in generated.items
    ]
    targets: list[TrainingTarget | None] = [
        TrainingTarget(r.pair.target, r.text, ends_turn=r.ends_turn) if r.kept else None for r in generated.items
    ]
    return Targets(targets, stats, samples, SAMPLES_FILES["radis"])


def _teacher_targets(
    spec: JobSpec,
    settings: SdftSettings | SeqkdSettings,
    data: JobData,
    model: Any,
    tokenizer: Any,
    fingerprint: str,
    run: RunContext,
) -> Targets:
    from radis_core.teacher_targets import generate_rewrites, generate_teacher_translations

    pairs = data.train_pairs
    noun = "Rewrites" if isinstance(settings, SdftSettings) else "Teacher translations"
    run.emit(StageStarted("generating_targets", f"{noun}: generating for {len(pairs)} pairs", total=len(pairs)))
    section = settings.rewrite if isinstance(settings, SdftSettings) else settings.teacher
    teacher, teacher_tokenizer, teacher_fingerprint = _teacher(spec, section.teacher_model, model, tokenizer, fingerprint)
    common: dict[str, Any] = dict(
        model_fingerprint=teacher_fingerprint,
        cache=_cache(spec),
        on_progress=_progress(run, "generating_targets", noun),
        should_cancel=run.should_cancel,
    )
    if isinstance(settings, SdftSettings):
        generated = generate_rewrites(teacher, teacher_tokenizer, pairs, settings.rewrite, **common)
    else:
        generated = generate_teacher_translations(
            teacher, teacher_tokenizer, pairs, settings.teacher, translation_template=spec.translation_template, **common
        )
    if teacher is not model:
        del teacher, teacher_tokenizer
        gc.collect()
    stats = {"method": spec.method, "used": True, **generated.stats()}
    run.emit(
        Note(
            "generating_targets",
            f"{noun} ready: {stats['kept']} of {stats['pairs']} kept, "
            f"{sum(generated.fell_back.values())} fell back to the reference",
            generated.stats(),
        )
    )
    targets: list[TrainingTarget | None] = [TrainingTarget(i.text) if i.kept else None for i in generated.items]
    return Targets(targets, stats, generated.samples(), SAMPLES_FILES[spec.method])
