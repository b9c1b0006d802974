"""A teacher model writes one text per pair (a rationale, a rewrite, a translation), cached across jobs.

Shared by every method that trains on generated text. Generation runs in slices so progress is
reported, cancellation is honoured and finished work is cached even when the job stops half way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from radis_core.corpus import Pair
from radis_core.events import JobCancelled
from radis_core.generation import DecodeSettings, generate
from radis_core.rationale_cache import CachedGeneration, RationaleCache, cache_key


@dataclass(frozen=True)
class TeacherOutput:
    """One generated text, why generation stopped, and whether it came from the cache."""

    text: str
    new_tokens: int
    finish_reason: str
    cached: bool

    @property
    def finished(self) -> bool:
        """The teacher ended the text itself (the token budget did not cut it)."""
        return self.finish_reason != "length"


@dataclass(frozen=True)
class TeacherRun:
    """Every pair's output and what producing them cost."""

    outputs: list[TeacherOutput]
    generated: int
    cached: int
    new_tokens: int
    seconds: float


def generate_with_cache(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    pairs: Sequence[Pair],
    decoding: DecodeSettings,
    *,
    keyed_template: str,
    model_fingerprint: str,
    cache: RationaleCache | None,
    batch_size: int,
    end_of_turn: str | None,
    on_progress: Callable[[int, int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> TeacherRun:
    """Generate for every prompt whose key is not cached yet; outputs in the prompts' order.

    ``on_progress(done, total, new_tokens)`` after each batch: prompts done and the tokens generated so far
    by this call (cache hits cost none; a caller's token budget counts them). ``should_cancel`` is polled
    before each batch, so a budget overshoots by at most one batch.

    ``prompts[i]`` is ``pairs[i]``'s prompt; the cache key is (``model_fingerprint``, the model's dtype, ``keyed_template``
    — the template, prefixed by what kind of text it asks for —, ``decoding``, the pair).
    """
    # The dtype the teacher computes in (its first parameter is a frozen base weight, never a LoRA one).
    dtype = str(next(model.parameters()).dtype)
    keys = [
        cache_key(
            model_fingerprint=model_fingerprint, dtype=dtype, template=keyed_template, decoding=decoding, pair_hash=p.pair_hash
        )
        for p in pairs
    ]
    hits = cache.get_many(keys) if cache else {}
    todo = [i for i, k in enumerate(keys) if k not in hits]
    started = time.perf_counter()
    new_tokens = 0
    fresh: dict[str, CachedGeneration] = {}
    slice_size = max(1, batch_size)
    done = len(prompts) - len(todo)
    if on_progress:
        on_progress(done, len(prompts), 0)
    for start in range(0, len(todo), slice_size):
        if should_cancel and should_cancel():
            raise JobCancelled("cancelled while the teacher was generating")
        chunk = todo[start : start + slice_size]
        outs = generate(model, tokenizer, [prompts[i] for i in chunk], decoding, batch_size=slice_size, end_of_turn=end_of_turn)
        batch = {keys[i]: (o.text.strip(), o.new_tokens, o.finish_reason) for i, o in zip(chunk, outs, strict=True)}
        new_tokens += sum(o.new_tokens for o in outs)
        fresh.update(batch)
        if cache:
            cache.put_many(batch)
        done += len(chunk)
        if on_progress:
            on_progress(done, len(prompts), new_tokens)
    outputs = []
    for key in keys:
        text, n, finish = hits.get(key) or fresh[key]
        outputs.append(TeacherOutput(text, n, finish, cached=key in hits))
    return TeacherRun(
        outputs, generated=len(todo), cached=len(keys) - len(todo), new_tokens=new_tokens, seconds=time.perf_counter() - started
    )
