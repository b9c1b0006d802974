"""Batched generation: length-bucketed prefill, one shared KV-cached decode, finished rows leave early.

Where the time goes decides the shape of this module (BENCHMARKS.md, target 1):

* **Prefill** is compute-bound, so batching it saves nothing while padding costs in full. The
  prompts' common prefix is computed once; the rest is sorted by length and prefilled in buckets
  of near-equal length (padding share bounded by ``PREFILL_PADDING``), then their caches are
  left-padded into one decode batch.
* **Decode** reads every weight once per step whatever the batch, so all rows decode together.
* **Finished rows leave the batch** (end of turn, a stop string, or their token budget) once half
  of it has finished: their KV rows are dropped, so a batch of mostly short answers does not pay
  for its longest one at full width.
* **Stop strings** are checked on a short decoded tail of each row, never on the whole text.

Greedy outputs equal ``model.generate`` on one prompt at a time (the benchmark checks this); the
logits processors are transformers' own, each seeing only its row's real tokens.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

# Longest acceptable padding share inside one prefill bucket, and the most positions one bucket
# may hold (bounds the activations of one prefill forward). On a CPU a prefill forward is
# compute-bound at any batch size, so no padding is worth paying for (16 rationale prompts: 8.2 s
# prefilled one length at a time against 8.9 s in 10 %-padded buckets); on a GPU one forward per
# prompt would be launch-bound, so buckets share a forward.
PREFILL_PADDING = 0.10
PREFILL_PADDING_CPU = 0.0
PREFILL_MAX_POSITIONS = 8192
# A common prompt prefix at least this long is computed once for the whole batch.
MIN_SHARED_PREFIX = 16
# Finished rows leave the decode batch once this share of it or less is still decoding. Not at
# every finished row: on the CPU, MKL multiplies 16 rows faster than 8 to 15 (lm_head: 30 ms at 16
# rows, 39 ms at 8, 79 ms at 15), so shrinking 16 → 15 made every later step slower.
COMPACT_AT = 0.5


@dataclass(frozen=True)
class DecodeSettings:
    """Decoding knobs shared by rationale generation, evaluation and chat probes."""

    max_new_tokens: int = 128
    do_sample: bool = False
    temperature: float = 0.7
    top_p: float = 0.9
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    stop: tuple[str, ...] = ()
    seed: int = 0


#: Why a row stopped: the model ended its turn, a stop string appeared, or the token budget ran out.
FinishReason = Literal["end_of_turn", "stop", "length"]


@dataclass
class Generation:
    """One decoded continuation and why it ended (``length``: the budget cut it, the model did not finish)."""

    text: str
    new_tokens: int
    finish_reason: FinishReason = "end_of_turn"


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """Text before the first stop string (the stop itself is not part of the answer)."""
    cut = len(text)
    for s in stops:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut]


def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    settings: DecodeSettings,
    *,
    batch_size: int = 16,
    end_of_turn: str | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> list[Generation]:
    """Decode a continuation for every prompt; results come back in the prompts' order.

    ``on_batch(done, total)`` is called after each batch (progress and cancel checks hook in here).
    """
    import torch

    if not prompts:
        return []
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]), reverse=True)
    eos_ids = _stop_token_ids(tokenizer, end_of_turn)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]
    decoder = _BatchDecoder(model, tokenizer, settings, eos_ids, pad_id)
    results: list[Generation | None] = [None] * len(prompts)

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                for i, (tokens, reason) in zip(idx, decoder.decode([encoded[i] for i in idx]), strict=True):
                    text = tokenizer.decode(tokens, skip_special_tokens=True)
                    results[i] = Generation(text=cut_at_stop(text, settings.stop), new_tokens=len(tokens), finish_reason=reason)
                if on_batch is not None:
                    on_batch(min(start + batch_size, len(order)), len(order))
    finally:
        if was_training:
            model.train()
    return [r for r in results if r is not None]


def prefill_buckets(
    lengths: Sequence[int], *, max_padding: float = PREFILL_PADDING, max_positions: int = PREFILL_MAX_POSITIONS
) -> list[list[int]]:
    """Split rows sorted longest first into runs whose left-padded prefill wastes at most ``max_padding``."""
    buckets: list[list[int]] = []
    current: list[int] = []
    real = 0
    for i, n in enumerate(lengths):
        if current:
            width = lengths[current[0]]  # the longest row of a run comes first
            positions = width * (len(current) + 1)
            if positions > max_positions or 1 - (real + n) / positions > max_padding:
                buckets.append(current)
                current, real = [], 0
        current.append(i)
        real += n
    if current:
        buckets.append(current)
    return buckets


class _BatchDecoder:
    """Decodes one batch of token-id prompts (sorted longest first) with the settings it was built with."""

    def __init__(self, model: Any, tokenizer: Any, settings: DecodeSettings, eos_ids: list[int], pad_id: int):
        import torch
        from transformers import (
            NoRepeatNGramLogitsProcessor,
            RepetitionPenaltyLogitsProcessor,
            TemperatureLogitsWarper,
            TopPLogitsWarper,
        )

        self.model, self.tokenizer, self.settings = model, tokenizer, settings
        self.eos_ids, self.pad_id = set(eos_ids), pad_id
        self.device = next(model.parameters()).device
        self.cache_kwarg = _cache_kwarg(model)
        self.repetition = (
            RepetitionPenaltyLogitsProcessor(settings.repetition_penalty) if settings.repetition_penalty != 1.0 else None
        )
        self.no_repeat = NoRepeatNGramLogitsProcessor(settings.no_repeat_ngram_size) if settings.no_repeat_ngram_size else None
        self.temperature = TemperatureLogitsWarper(settings.temperature) if settings.do_sample else None
        self.top_p = TopPLogitsWarper(settings.top_p) if settings.do_sample else None
        self.generator = None
        if settings.do_sample:
            self.generator = torch.Generator(device=self.device).manual_seed(settings.seed)
        # a stop string of k characters spans at most 4k byte-level tokens
        self.stop_window = 4 * max((len(s) for s in settings.stop), default=0) + 1

    def decode(self, rows: list[list[int]]) -> list[tuple[list[int], FinishReason]]:
        """New tokens of every row (end-of-turn token excluded) and why the row stopped."""
        import torch

        cache, mask, logits = self._prefill(rows)
        if cache is None:  # a cache layout this decoder cannot pad and slice
            return self._decode_with_hf_generate(rows)
        width = max(len(r) for r in rows)
        n = len(rows)
        # the processors' view of each row: prompt + new tokens; padding repeats the row's first
        # token, which leaves the set of tokens a repetition penalty looks at unchanged
        seen = torch.empty((n, width), dtype=torch.long)
        for r, ids in enumerate(rows):
            seen[r] = torch.tensor([ids[0]] * (width - len(ids)) + ids, dtype=torch.long)
        seen = seen.to(self.device)
        positions = torch.tensor([len(ids) for ids in rows], device=self.device)
        new: list[list[int]] = [[] for _ in rows]
        reasons: list[FinishReason] = ["length"] * n
        batch_rows = list(range(n))  # original row of each batch row
        finished: set[int] = set()
        for _step in range(self.settings.max_new_tokens):
            chosen = self._choose(logits, seen, [rows[r] + new[r] for r in batch_rows] if self.no_repeat else [])
            for b, token in enumerate(chosen.tolist()):
                row = batch_rows[b]
                if row in finished:
                    continue  # still riding along until the batch is compacted; its token is ignored
                if token in self.eos_ids:
                    finished.add(row)
                    reasons[row] = "end_of_turn"
                    continue
                new[row].append(token)
                if self._hit_stop(new[row]):
                    finished.add(row)
                    reasons[row] = "stop"
                elif len(new[row]) >= self.settings.max_new_tokens:
                    finished.add(row)  # the reason stays "length"
            live = [b for b, row in enumerate(batch_rows) if row not in finished]
            if not live:
                break
            if len(live) <= COMPACT_AT * len(batch_rows):
                index = torch.tensor(live, device=self.device)
                cache.batch_select_indices(index)
                mask, positions, chosen, seen = mask[index], positions[index], chosen[index], seen[index]
                batch_rows = [batch_rows[b] for b in live]
            mask = torch.cat([mask, mask.new_ones((len(batch_rows), 1))], dim=1)
            seen = torch.cat([seen, chosen[:, None]], dim=1)
            out = self.model(
                input_ids=chosen[:, None],
                attention_mask=mask,
                position_ids=positions[:, None],
                use_cache=True,
                **{self.cache_kwarg: cache},
            )
            logits = out.logits[:, -1, :].float()
            positions = positions + 1
        return list(zip(new, reasons, strict=True))

    def _prefill(self, rows: list[list[int]]) -> tuple[Any, Any, Any]:
        """One cache for all rows, its attention mask, and each row's next-token logits.

        The prompts' common token prefix (the system prompt and the instruction, for rationales) is
        computed once and shared; each bucket then prefills only its rows' suffixes after it. A
        row's cache is laid out as [padding][prefix][padding][suffix]: attention only sees the mask
        and rotary positions are given explicitly, so where the padding sits does not matter.
        """
        import torch
        import torch.nn.functional as F
        from transformers.cache_utils import DynamicCache

        from radis_core.kv_cache import reserved_cache

        shared = _shared_prefix_length(rows)
        prefix: list[tuple[Any, Any]] = []
        if shared:
            out = self.model(input_ids=torch.tensor([rows[0][:shared]], device=self.device), use_cache=True, logits_to_keep=1)
            if (cache := _plain_cache(out)) is None:
                return None, None, None
            prefix = [(layer.keys, layer.values) for layer in cache.layers]
        suffixes = [r[shared:] for r in rows]
        width = max(len(r) for r in suffixes)
        layers: list[list[tuple[Any, Any]]] = []
        masks, logits = [], []
        padding = PREFILL_PADDING_CPU if self.device.type == "cpu" else PREFILL_PADDING
        for bucket in prefill_buckets([len(r) for r in suffixes], max_padding=padding):
            part = [suffixes[i] for i in bucket]
            w = len(part[0])
            ids, mask = (t.to(self.device) for t in left_padded(part, self.pad_id))
            kwargs: dict[str, Any] = {}
            if shared:
                kwargs[self.cache_kwarg] = DynamicCache(
                    ddp_cache_data=[
                        (k.expand(len(part), -1, -1, -1).contiguous(), v.expand(len(part), -1, -1, -1).contiguous())
                        for k, v in prefix
                    ]
                )
                mask = torch.cat([mask.new_ones((len(part), shared)), mask], dim=1)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, shared:]
            out = self.model(
                input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1, **kwargs
            )
            if (cache := _plain_cache(out)) is None:
                return None, None, None
            for li, layer in enumerate(cache.layers):
                if li == len(layers):
                    layers.append([])
                # left-pad to the whole batch's width so every row's next position lines up
                layers[li].append((F.pad(layer.keys, (0, 0, width - w, 0)), F.pad(layer.values, (0, 0, width - w, 0))))
            masks.append(F.pad(mask, (width - w, 0)))
            logits.append(out.logits[:, -1, :].float())
        merged = reserved_cache(
            [(torch.cat([k for k, _ in parts]), torch.cat([v for _, v in parts])) for parts in layers],
            extra_positions=self.settings.max_new_tokens,
        )
        return merged, torch.cat(masks), torch.cat(logits)

    def _choose(self, logits: Any, seen: Any, histories: list[list[int]]) -> Any:
        """Next token of each row: transformers' processors in ``generate``'s order, then argmax or a seeded draw."""
        import torch

        # each processor exists exactly when its setting asks for it (see __init__)
        if self.repetition is not None:
            logits = self.repetition(seen, logits)
        if self.no_repeat is not None:  # n-grams must not run across padding: one row at a time
            logits = torch.cat(
                [self.no_repeat(torch.tensor([h], device=self.device), logits[b : b + 1]) for b, h in enumerate(histories)]
            )
        if self.temperature is None or self.top_p is None:  # greedy: do_sample is off
            return logits.argmax(dim=-1)
        logits = self.top_p(seen, self.temperature(seen, logits))
        probs = torch.softmax(logits, dim=-1)
        return torch.multinomial(probs, 1, generator=self.generator).squeeze(1)

    def _hit_stop(self, tokens: list[int]) -> bool:
        if not self.settings.stop:
            return False
        tail = self.tokenizer.decode(tokens[-self.stop_window :], skip_special_tokens=True)
        return any(s in tail for s in self.settings.stop)

    def _decode_with_hf_generate(self, rows: list[list[int]]) -> list[tuple[list[int], FinishReason]]:
        """Fallback for models whose cache is not a plain growing one (sliding windows, hybrids)."""
        import torch

        s = self.settings
        ids, mask = left_padded(rows, self.pad_id)
        width = ids.shape[1]
        kwargs: dict[str, Any] = dict(
            max_new_tokens=s.max_new_tokens,
            do_sample=s.do_sample,
            eos_token_id=sorted(self.eos_ids),
            pad_token_id=self.pad_id,
            repetition_penalty=s.repetition_penalty if s.repetition_penalty != 1.0 else None,
            no_repeat_ngram_size=s.no_repeat_ngram_size or None,
        )
        if s.do_sample:
            kwargs.update(temperature=s.temperature, top_p=s.top_p, top_k=None)
            torch.manual_seed(s.seed)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if s.stop:
            kwargs.update(stop_strings=list(s.stop), tokenizer=self.tokenizer)
        out = self.model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device), **kwargs)
        results: list[tuple[list[int], FinishReason]] = []
        for seq in out[:, width:].tolist():
            tokens = _strip_after_eos(seq, sorted(self.eos_ids), self.pad_id)
            reason: FinishReason = "end_of_turn" if any(t in self.eos_ids for t in seq) else "length"
            if s.stop and self._hit_stop(tokens):
                reason = "stop"
            results.append((tokens, reason))
        return results


def left_padded(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[Any, Any]:
    """(input ids, attention mask) of ``rows`` left-padded to the longest, on the CPU."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, toks in enumerate(rows):
        ids[r, width - len(toks) :] = torch.tensor(toks, dtype=torch.long)
        mask[r, width - len(toks) :] = 1
    return ids, mask


def _plain_cache(out: Any) -> Any:
    """The forward's KV cache if every layer is a plain growing one (this decoder pads and slices those), else None."""
    from transformers.cache_utils import DynamicLayer

    cache = out.cache if hasattr(out, "cache") else out.past_key_values
    return cache if all(type(layer) is DynamicLayer for layer in cache.layers) else None


def _shared_prefix_length(rows: list[list[int]]) -> int:
    """Tokens all rows start with (0 when fewer than ``MIN_SHARED_PREFIX``); every row keeps one of its own."""
    shortest = min(len(r) for r in rows)
    n = 0
    while n < shortest - 1 and all(r[n] == rows[0][n] for r in rows):
        n += 1
    return n if n >= MIN_SHARED_PREFIX and len(rows) > 1 else 0


def _cache_kwarg(model: Any) -> str:
    """The forward argument that takes the KV cache (``cache`` in newer transformers, ``past_key_values`` before)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(type(base).forward).parameters else "past_key_values"


def _stop_token_ids(tokenizer: Any, end_of_turn: str | None) -> list[int]:
    ids: list[int] = []
    if tokenizer.eos_token_id is not None:
        ids.append(int(tokenizer.eos_token_id))
    if end_of_turn:
        tid = tokenizer.convert_tokens_to_ids(end_of_turn)
        if isinstance(tid, int) and tid != getattr(tokenizer, "unk_token_id", None) and tid not in ids:
            ids.append(tid)
    if not ids:
        raise ValueError("tokenizer has no end-of-sequence token; cannot tell when generation ends")
    return ids


def _strip_after_eos(tokens: list[int], eos_ids: list[int], pad_id: int) -> list[int]:
    for j, t in enumerate(tokens):
        if t in eos_ids:
            return tokens[:j]
    # a row that finished while others went on is padded with pad_id after its end
    while tokens and tokens[-1] == pad_id and pad_id not in eos_ids:
        tokens = tokens[:-1]
    return tokens
