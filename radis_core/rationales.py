"""Rationale generation: the model explains each reference translation it is given.

The rationale prompt asks for a translation and an explanation, and prefills the assistant turn
with the reference: the model's continuation is its explanation of *that* translation. Results
are cached (see :mod:`radis_core.rationale_cache`) and filtered (:mod:`radis_core.rationale_filter`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from radis_core.config import SEPARATOR
from radis_core.corpus import Pair
from radis_core.generation import DecodeSettings
from radis_core.prompts import ChatFormat, fill_template, rationale_prompt
from radis_core.rationale_cache import RationaleCache
from radis_core.rationale_filter import FilterSettings, Verdict, judge, last_complete_sentence
from radis_core.settings import DEFAULT_TRANSLATION_TEMPLATE, RationaleSettings
from radis_core.teacher import TeacherOutput, generate_with_cache


@dataclass
class Rationale:
    """The rationale for one pair, and whether it survived the filter.

    ``finish_reason`` says why generation stopped; a ``length`` rationale (cut by the token budget) is
    ``trimmed`` to its last complete sentence or rejected as ``unfinished``. Only a rationale the model
    ended itself (``ends_turn``) is followed by an end-of-turn label in training.
    """

    pair: Pair
    text: str
    kept: bool
    reason: str | None
    detail: str
    cached: bool
    finish_reason: str = "end_of_turn"
    trimmed: bool = False

    @property
    def ends_turn(self) -> bool:
        """Whether the model itself ended the turn after this text."""
        return self.finish_reason != "length"


@dataclass
class RationaleRun:
    """All rationales of a job and what producing them cost."""

    items: list[Rationale]
    generated: int
    cached: int
    new_tokens: int
    seconds: float
    rejected: dict[str, int] = field(default_factory=dict)

    @property
    def kept_share(self) -> float:
        """Share of the pairs whose rationale is trained on (0 for no pairs)."""
        return sum(1 for r in self.items if r.kept) / len(self.items) if self.items else 0.0

    def stats(self) -> dict[str, Any]:
        """Counts for the report: what was generated or cached, how it ended, what was kept and why not."""
        kept = sum(1 for r in self.items if r.kept)
        return {
            "pairs": len(self.items),
            "kept": kept,
            "kept_share": round(self.kept_share, 4),
            "finished": sum(1 for r in self.items if r.ends_turn),
            "cut_by_budget": sum(1 for r in self.items if not r.ends_turn),
            "trimmed_to_sentence": sum(1 for r in self.items if r.trimmed),
            "rejected": dict(self.rejected),
            "generated": self.generated,
            "from_cache": self.cached,
            "new_tokens": self.new_tokens,
            "generation_seconds": round(self.seconds, 2),
            "tokens_per_second": round(self.new_tokens / self.seconds, 1) if self.seconds > 0 else None,
        }


def decode_settings(settings: RationaleSettings, seed: int) -> DecodeSettings:
    """The decoding part of the rationale settings (also part of the cache key)."""
    return DecodeSettings(
        max_new_tokens=settings.max_new_tokens,
        do_sample=settings.do_sample,
        temperature=settings.temperature,
        top_p=settings.top_p,
        repetition_penalty=settings.repetition_penalty,
        no_repeat_ngram_size=settings.no_repeat_ngram_size,
        seed=seed if settings.do_sample else 0,
    )


def rationale_prompts(
    fmt: ChatFormat, pairs: Sequence[Pair], settings: RationaleSettings, translation_template: str
) -> tuple[list[str], str]:
    """Every pair's prompt (the reference prefilled as the answer) and the template that keys the cache.

    ``prompt="explain"`` asks for a translation and an explanation (the default); ``"translation"`` asks
    with the training prompt itself, the pure self-distillation reading of RaDis.
    """
    if settings.prompt == "translation":
        prompts = [
            fmt.prefilled(
                fill_template(translation_template, source=p.source, src_lang=p.src_lang, tgt_lang=p.tgt_lang),
                p.target.strip() + SEPARATOR,
            )
            for p in pairs
        ]
        return prompts, "translation-prompt:" + translation_template
    prompts = [
        rationale_prompt(fmt, settings.template, source=p.source, reference=p.target, src_lang=p.src_lang, tgt_lang=p.tgt_lang)
        for p in pairs
    ]
    return prompts, settings.template


def _verdict(output: TeacherOutput, prompt: str, pair: Pair, filter_settings: FilterSettings) -> tuple[str, bool, Verdict]:
    """(text to train on, trimmed?, verdict): a budget-cut rationale keeps only its complete sentences."""
    text, trimmed = output.text, False
    if not output.finished:
        complete = last_complete_sentence(text, min_words=filter_settings.min_words)
        if complete is None:
            return text, False, Verdict(False, "unfinished", f"cut at {output.new_tokens} tokens with no complete sentence")
        text, trimmed = complete, complete != output.text.rstrip()
    return text, trimmed, judge(text, prompt=prompt, reference=pair.target, settings=filter_settings)


def generate_rationales(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[Pair],
    settings: RationaleSettings,
    *,
    model_fingerprint: str,
    cache: RationaleCache | None,
    seed: int = 0,
    translation_template: str = DEFAULT_TRANSLATION_TEMPLATE,
    filter_settings: FilterSettings = FilterSettings(),
    on_progress: Callable[[int, int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> RationaleRun:
    """Explain every pair's reference; cached pairs cost nothing. Budget-cut rationales are trimmed
    to their last complete sentence or rejected as ``unfinished``; the filter judges the rest."""
    fmt = ChatFormat.for_tokenizer(tokenizer)
    decoding = decode_settings(settings, seed)
    prompts, keyed_template = rationale_prompts(fmt, pairs, settings, translation_template)
    run = generate_with_cache(
        model,
        tokenizer,
        prompts,
        pairs,
        decoding,
        keyed_template=keyed_template,
        model_fingerprint=model_fingerprint,
        cache=cache,
        batch_size=settings.batch_size,
        end_of_turn=fmt.end_of_turn,
        on_progress=on_progress,
        should_cancel=should_cancel,
    )
    items: list[Rationale] = []
    rejected: Counter[str] = Counter()
    for pair, prompt, output in zip(pairs, prompts, run.outputs, strict=True):
        text, trimmed, verdict = _verdict(output, prompt, pair, filter_settings)
        if not verdict.kept and verdict.reason:
            rejected[verdict.reason] += 1
        items.append(
            Rationale(
                pair,
                text,
                verdict.kept,
                verdict.reason,
                verdict.detail,
                output.cached,
                finish_reason=output.finish_reason,
                trimmed=trimmed,
            )
        )
    return RationaleRun(
        items, generated=run.generated, cached=run.cached, new_tokens=run.new_tokens, seconds=run.seconds, rejected=dict(rejected)
    )
