"""The targets of the paper's baselines: SDFT rewrites and SeqKD teacher translations.

- **SDFT** (self-distillation fine-tuning, Yang et al. 2024): the teacher (by default the base model)
  restates each reference translation in its own words, given the source and the reference; a rewrite
  whose chrF++ against the reference falls below ``min_chrf`` strays from it, and its pair trains on
  the reference instead.
- **SeqKD** (sequence-level knowledge distillation): the teacher translates each source greedily under
  the training prompt; the student trains on those translations.

Either way a text the token budget cut, or an empty one, falls back to the reference: training on
half a translation teaches the wrong thing. Outputs are cached like rationales (teacher fingerprint,
template, decoding, pair).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from radis_core.corpus import Pair
from radis_core.generation import DecodeSettings
from radis_core.prompts import ChatFormat, fill_template, translation_prompt
from radis_core.rationale_cache import RationaleCache
from radis_core.settings import RewriteSettings, TeacherSettings
from radis_core.teacher import TeacherOutput, generate_with_cache

TargetKind = Literal["rewrite", "translation"]


@dataclass(frozen=True)
class TargetItem:
    """One pair's teacher text and whether the pair trains on it (else on its reference)."""

    pair: Pair
    text: str
    kept: bool
    reason: str | None
    cached: bool
    finish_reason: str
    chrf: float | None = None


@dataclass
class TargetRun:
    """Every pair's teacher output, what was kept, and what producing it cost."""

    kind: TargetKind
    items: list[TargetItem]
    generated: int
    cached: int
    new_tokens: int
    seconds: float
    fell_back: dict[str, int] = field(default_factory=dict)

    def stats(self) -> dict[str, Any]:
        """Counts for the report."""
        kept = [i for i in self.items if i.kept]
        chrfs = [i.chrf for i in self.items if i.chrf is not None]
        return {
            "kind": self.kind,
            "pairs": len(self.items),
            "kept": len(kept),
            "kept_share": round(len(kept) / len(self.items), 4) if self.items else 0.0,
            "finished": sum(1 for i in self.items if i.finish_reason != "length"),
            "fell_back_to_reference": dict(self.fell_back),
            "equal_to_reference": sum(1 for i in self.items if _same(i.text, i.pair.target)),
            "mean_chrf_to_reference": round(sum(chrfs) / len(chrfs), 2) if chrfs else None,
            "generated": self.generated,
            "from_cache": self.cached,
            "new_tokens": self.new_tokens,
            "generation_seconds": round(self.seconds, 2),
        }

    def samples(self) -> list[dict[str, Any]]:
        """One row per pair for the job's JSON Lines result file."""
        return [
            {
                "source": i.pair.source,
                "reference": i.pair.target,
                self.kind: i.text,
                "kept": i.kept,
                "reason": i.reason,
                "finish_reason": i.finish_reason,
                "chrf": i.chrf,
                "cached": i.cached,
                "line": i.pair.line,
            }
            for i in self.items
        ]


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _greedy(max_new_tokens: int) -> DecodeSettings:
    # Greedy, no repetition penalty: the teacher's own most likely text is what distillation wants.
    return DecodeSettings(max_new_tokens=max_new_tokens)


def _judge(kind: TargetKind, output: TeacherOutput, pair: Pair, min_chrf: float | None) -> TargetItem:
    from radis_core.evaluation.translation import extract_translation

    text = extract_translation(output.text)
    if not output.finished:
        return TargetItem(pair, text, False, "unfinished", output.cached, output.finish_reason)
    if not text.strip():
        return TargetItem(pair, text, False, "empty", output.cached, output.finish_reason)
    chrf = None
    if min_chrf is not None:
        from sacrebleu.metrics import CHRF

        chrf = round(CHRF(word_order=2).sentence_score(text, [pair.target]).score, 2)
        if chrf < min_chrf:
            return TargetItem(pair, text, False, "strays", output.cached, output.finish_reason, chrf)
    return TargetItem(pair, text, True, None, output.cached, output.finish_reason, chrf)


def _run(
    kind: TargetKind,
    model: Any,
    tokenizer: Any,
    pairs: Sequence[Pair],
    prompts: list[str],
    keyed_template: str,
    decoding: DecodeSettings,
    *,
    batch_size: int,
    model_fingerprint: str,
    cache: RationaleCache | None,
    min_chrf: float | None,
    on_progress: Callable[[int, int, int], None] | None,
    should_cancel: Callable[[], bool] | None,
    end_of_turn: str,
) -> TargetRun:
    run = generate_with_cache(
        model,
        tokenizer,
        prompts,
        pairs,
        decoding,
        keyed_template=keyed_template,
        model_fingerprint=model_fingerprint,
        cache=cache,
        batch_size=batch_size,
        end_of_turn=end_of_turn,
        on_progress=on_progress,
        should_cancel=should_cancel,
    )
    items = [_judge(kind, output, pair, min_chrf) for pair, output in zip(pairs, run.outputs, strict=True)]
    fell_back = Counter(i.reason for i in items if i.reason)
    return TargetRun(kind, items, run.generated, run.cached, run.new_tokens, run.seconds, dict(fell_back))


def generate_rewrites(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[Pair],
    settings: RewriteSettings,
    *,
    model_fingerprint: str,
    cache: RationaleCache | None,
    on_progress: Callable[[int, int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> TargetRun:
    """SDFT: the teacher's rewrite of every reference; strays (chrF++ below ``min_chrf``) fall back."""
    fmt = ChatFormat.for_tokenizer(tokenizer)
    prompts = [
        fmt.user_prompt(
            fill_template(
                settings.template, source=p.source, src_lang=p.src_lang, tgt_lang=p.tgt_lang, reference=p.target.strip()
            )
        )
        for p in pairs
    ]
    return _run(
        "rewrite",
        model,
        tokenizer,
        pairs,
        prompts,
        "sdft-rewrite:" + settings.template,
        _greedy(settings.max_new_tokens),
        batch_size=settings.batch_size,
        model_fingerprint=model_fingerprint,
        cache=cache,
        min_chrf=settings.min_chrf,
        on_progress=on_progress,
        should_cancel=should_cancel,
        end_of_turn=fmt.end_of_turn,
    )


def generate_teacher_translations(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[Pair],
    settings: TeacherSettings,
    *,
    translation_template: str,
    model_fingerprint: str,
    cache: RationaleCache | None,
    on_progress: Callable[[int, int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> TargetRun:
    """SeqKD: the teacher's greedy translation of every source, under the training prompt."""
    fmt = ChatFormat.for_tokenizer(tokenizer)
    prompts = [
        translation_prompt(fmt, translation_template, source=p.source, src_lang=p.src_lang, tgt_lang=p.tgt_lang) for p in pairs
    ]
    return _run(
        "translation",
        model,
        tokenizer,
        pairs,
        prompts,
        "seqkd-translation:" + translation_template,
        _greedy(settings.max_new_tokens),
        batch_size=settings.batch_size,
        model_fingerprint=model_fingerprint,
        cache=cache,
        min_chrf=None,
        on_progress=on_progress,
        should_cancel=should_cancel,
        end_of_turn=fmt.end_of_turn,
    )
