"""Batched generation: length-sorted, left-padded, KV-cached, stop strings honoured per row.

Sorting prompts by length before batching keeps padding (wasted compute) small; left padding keeps
every row's next token at the same position, which batched decoding with a KV cache needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence


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


@dataclass
class Generation:
    """One decoded continuation."""

    text: str
    new_tokens: int


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
    device = next(model.parameters()).device
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]), reverse=True)
    eos_ids = _stop_token_ids(tokenizer, end_of_turn)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]
    results: list[Generation | None] = [None] * len(prompts)
    gen_kwargs: dict[str, Any] = dict(
        max_new_tokens=settings.max_new_tokens,
        do_sample=settings.do_sample,
        eos_token_id=eos_ids,
        pad_token_id=pad_id,
        repetition_penalty=settings.repetition_penalty if settings.repetition_penalty != 1.0 else None,
        no_repeat_ngram_size=settings.no_repeat_ngram_size or None,
    )
    if settings.do_sample:
        gen_kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
    else:
        gen_kwargs.update(temperature=None, top_p=None, top_k=None)
    if settings.stop:
        # transformers checks stop strings on the fly per row; finished rows stop early
        gen_kwargs.update(stop_strings=list(settings.stop), tokenizer=tokenizer)
    if settings.do_sample:
        torch.manual_seed(settings.seed)

    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(encoded[i]) for i in idx)
            input_ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            attention = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                ids = encoded[i]
                input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
                attention[row, width - len(ids) :] = 1
            with torch.inference_mode():
                out = model.generate(
                    input_ids=input_ids.to(device), attention_mask=attention.to(device), **gen_kwargs
                )
            new = out[:, width:].tolist()
            for row, i in enumerate(idx):
                toks = _strip_after_eos(new[row], eos_ids, pad_id)
                text = tokenizer.decode(toks, skip_special_tokens=True)
                results[i] = Generation(text=cut_at_stop(text, settings.stop), new_tokens=len(toks))
            if on_batch is not None:
                on_batch(min(start + batch_size, len(order)), len(order))
    finally:
        if was_training:
            model.train()
    return [r for r in results if r is not None]


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
