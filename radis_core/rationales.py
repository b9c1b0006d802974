"""Rationale generation: the model explains each reference translation it is given.

The rationale prompt asks for a translation and an explanation, and prefills the assistant turn
with the reference: the model's continuation is its explanation of *that* translation. Results
are cached (see :mod:`radis_core.rationale_cache`) and filtered (:mod:`radis_core.rationale_filter`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from radis_core.corpus import Pair
from radis_core.events import JobCancelled
from radis_core.generation import DecodeSettings, generate
from radis_core.prompts import ChatFormat, rationale_prompt
from radis_core.rationale_cache import RationaleCache, cache_key
from radis_core.rationale_filter import FilterSettings, judge
from radis_core.settings import RationaleSettings


@dataclass
class Rationale:
    """The rationale for one pair, and whether it survived the filter."""

    pair: Pair
    text: str
    kept: bool
    reason: str | None
    detail: str
    cached: bool


@dataclass
class RationaleRun:
    """All rationales of a job and what producing them cost."""

    items: list[Rationale]
    generated: int
    cached: int
    new_tokens: int
    seconds: float
    rejected: dict[str, int] = field(default_factory=dict)

    def stats(self) -> dict[str, Any]:
        """Counts for the report."""
        kept = sum(1 for r in self.items if r.kept)
        return {
            "pairs": len(self.items),
            "kept": kept,
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


def generate_rationales(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[Pair],
    settings: RationaleSettings,
    *,
    model_fingerprint: str,
    cache: RationaleCache | None,
    seed: int = 0,
    filter_settings: FilterSettings = FilterSettings(),
    on_progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> RationaleRun:
    """Explain every pair's reference; cached pairs cost nothing."""
    fmt = ChatFormat.for_tokenizer(tokenizer)
    decoding = decode_settings(settings, seed)
    prompts = [
        rationale_prompt(fmt, settings.template, source=p.source, reference=p.target, src_lang=p.src_lang, tgt_lang=p.tgt_lang)
        for p in pairs
    ]
    keys = [
        cache_key(model_fingerprint=model_fingerprint, template=settings.template, decoding=decoding, pair_hash=p.pair_hash)
        for p in pairs
    ]
    hits = cache.get_many(keys) if cache else {}
    todo = [i for i, k in enumerate(keys) if k not in hits]

    started = time.perf_counter()
    new_tokens = 0
    fresh: dict[str, tuple[str, int]] = {}
    # Generate in slices so progress is reported, cancel is honoured and finished work is cached
    # even if the job stops half way.
    slice_size = max(1, settings.batch_size)
    done = len(pairs) - len(todo)
    if on_progress:
        on_progress(done, len(pairs))
    for start in range(0, len(todo), slice_size):
        if should_cancel and should_cancel():
            raise JobCancelled("cancelled while generating rationales")
        chunk = todo[start : start + slice_size]
        outs = generate(
            model, tokenizer, [prompts[i] for i in chunk], decoding, batch_size=slice_size, end_of_turn=fmt.end_of_turn
        )
        batch = {keys[i]: (o.text.strip(), o.new_tokens) for i, o in zip(chunk, outs, strict=True)}
        new_tokens += sum(o.new_tokens for o in outs)
        fresh.update(batch)
        if cache:
            cache.put_many(batch)
        done += len(chunk)
        if on_progress:
            on_progress(done, len(pairs))
    seconds = time.perf_counter() - started

    items: list[Rationale] = []
    rejected: Counter[str] = Counter()
    for i, p in enumerate(pairs):
        cached = keys[i] in hits
        text = (hits.get(keys[i]) or fresh[keys[i]])[0]
        verdict = judge(text, prompt=prompts[i], reference=p.target, settings=filter_settings)
        if not verdict.kept and verdict.reason:
            rejected[verdict.reason] += 1
        items.append(Rationale(p, text, verdict.kept, verdict.reason, verdict.detail, cached))
    return RationaleRun(
        items, generated=len(todo), cached=len(pairs) - len(todo), new_tokens=new_tokens, seconds=seconds, rejected=dict(rejected)
    )
