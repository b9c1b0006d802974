"""Training examples: prompt tokens masked, targets built per method, batches grouped by length.

RaDis target = reference + separator + rationale (+ end of turn); supervised target = reference
(+ end of turn). Only target tokens count toward the loss: prompt positions carry IGNORE_INDEX,
decided here at tokenisation. When an example is too long, the rationale is trimmed; the reference
is never cut (an example whose prompt + reference alone is too long is dropped and counted).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from radis_core.config import SEPARATOR, Method
from radis_core.corpus import Pair
from radis_core.prompts import ChatFormat, translation_prompt

#: Label value that cross-entropy ignores (PyTorch's default ignore_index).
IGNORE_INDEX = -100

#: A rationale trimmed to fewer tokens than this is dropped rather than kept as a stub.
MIN_RATIONALE_TOKENS = 8


@dataclass
class Example:
    """One tokenised training sequence."""

    input_ids: list[int]
    labels: list[int]
    rationale_tokens: int
    trimmed: bool

    @property
    def target_tokens(self) -> int:
        """Tokens that count toward the loss."""
        return sum(1 for x in self.labels if x != IGNORE_INDEX)


@dataclass
class BuildStats:
    """What tokenisation did to the data."""

    examples: int
    dropped_too_long: int
    rationales_trimmed: int
    rationales_dropped_by_length: int
    with_rationale: int


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def build_example(
    tokenizer: Any,
    fmt: ChatFormat,
    template: str,
    pair: Pair,
    *,
    rationale: str | None,
    max_seq_len: int,
) -> Example | None:
    """Tokenise one pair (and its rationale, if any); None when even the reference does not fit."""
    prompt = _ids(
        tokenizer, translation_prompt(fmt, template, source=pair.source, src_lang=pair.src_lang, tgt_lang=pair.tgt_lang)
    )
    reference = _ids(tokenizer, pair.target.strip())
    end = _ids(tokenizer, fmt.end_of_turn) if fmt.end_of_turn else []
    base_len = len(prompt) + len(reference) + len(end)
    if base_len > max_seq_len:
        return None

    extra: list[int] = []
    trimmed = False
    if rationale:
        sep = _ids(tokenizer, SEPARATOR)
        body = _ids(tokenizer, rationale.strip())
        room = max_seq_len - base_len - len(sep)
        if room < len(body):
            trimmed = True
            body = body[: max(room, 0)]
        if len(body) >= MIN_RATIONALE_TOKENS:
            extra = sep + body
    target = reference + extra + end
    return Example(
        input_ids=prompt + target,
        labels=[IGNORE_INDEX] * len(prompt) + target,
        rationale_tokens=len(extra),
        trimmed=trimmed,
    )


def build_examples(
    tokenizer: Any,
    pairs: Sequence[Pair],
    *,
    method: Method,
    template: str,
    max_seq_len: int,
    rationales: Sequence[str | None] | None = None,
) -> tuple[list[Example], BuildStats]:
    """Tokenise a corpus for ``method``; ``rationales[i]`` (None = rejected) is used only for radis."""
    if method == "radis" and rationales is None:
        raise ValueError("method 'radis' needs rationales")
    fmt = ChatFormat.for_tokenizer(tokenizer)
    examples: list[Example] = []
    dropped = trimmed = rat_dropped = with_rat = 0
    for i, pair in enumerate(pairs):
        rationale = rationales[i] if (method == "radis" and rationales is not None) else None
        ex = build_example(tokenizer, fmt, template, pair, rationale=rationale, max_seq_len=max_seq_len)
        if ex is None:
            dropped += 1
            continue
        trimmed += int(ex.trimmed and ex.rationale_tokens > 0)
        rat_dropped += int(bool(rationale) and ex.rationale_tokens == 0)
        with_rat += int(ex.rationale_tokens > 0)
        examples.append(ex)
    return examples, BuildStats(len(examples), dropped, trimmed, rat_dropped, with_rat)


def plan_batches(lengths: Sequence[int], batch_size: int, *, seed: int, epoch: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, batch order shuffled per epoch.

    Sorting within a shuffled "megabatch" of ``batch_size * 50`` items (as transformers'
    group_by_length does) keeps padding low while still mixing large corpora between epochs; the
    plan depends only on (seed, epoch), so a resumed run replays exactly the same batches.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 50
    batches: list[list[int]] = []
    for w in range(0, len(order), window):
        chunk = sorted(order[w : w + window], key=lambda i: lengths[i])
        batches.extend(chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def collate(examples: Sequence[Example], pad_id: int) -> dict[str, Any]:
    """Right-pad a batch for training (labels padded with IGNORE_INDEX)."""
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for r, e in enumerate(examples):
        n = len(e.input_ids)
        ids[r, :n] = torch.tensor(e.input_ids)
        labels[r, :n] = torch.tensor(e.labels)
        mask[r, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}
