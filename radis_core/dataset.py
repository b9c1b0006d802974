"""Training examples: prompt tokens masked, targets built per method, batches grouped by length.

Each pair's target is a :class:`TrainingTarget`: the answer (the reference; SDFT's rewrite; SeqKD's
teacher translation), optionally followed by separator + rationale (RaDis), then the end-of-turn
token — but only where the writer of the text ended its turn: a rationale the token budget or the
sequence budget cut is not a finished turn, and the model must not learn to end one there.
Only target tokens count toward the loss: prompt positions carry IGNORE_INDEX, decided here at
tokenisation. When an example is too long, the rationale is trimmed; the answer is never cut (an
example whose prompt + answer alone is too long is dropped and counted).
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
    #: Whether the labels close with the end-of-turn token.
    ends_turn: bool = True

    @property
    def target_tokens(self) -> int:
        """Tokens that count toward the loss."""
        return sum(1 for x in self.labels if x != IGNORE_INDEX)


@dataclass(frozen=True)
class TrainingTarget:
    """What one pair trains on after its prompt."""

    answer: str
    rationale: str | None = None
    #: Whether the text's writer ended the turn after it (False: a budget cut it; no end-of-turn label).
    ends_turn: bool = True


@dataclass
class BuildStats:
    """What tokenisation did to the data."""

    examples: int
    dropped_too_long: int
    rationales_trimmed: int
    rationales_dropped_by_length: int
    with_rationale: int
    #: Examples whose labels end without the end-of-turn token (their rationale was cut).
    without_end_of_turn: int = 0
    #: Share of all loss-bearing tokens that are rationale (separator included).
    rationale_token_share: float = 0.0


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def build_example(
    tokenizer: Any,
    fmt: ChatFormat,
    template: str,
    pair: Pair,
    *,
    target: TrainingTarget | None = None,
    max_seq_len: int,
) -> Example | None:
    """Tokenise one pair (the reference alone when ``target`` is None); None when even the answer does not fit."""
    target = target or TrainingTarget(pair.target)
    prompt = _ids(
        tokenizer, translation_prompt(fmt, template, source=pair.source, src_lang=pair.src_lang, tgt_lang=pair.tgt_lang)
    )
    answer = _ids(tokenizer, target.answer.strip())
    end = _ids(tokenizer, fmt.end_of_turn) if fmt.end_of_turn else []
    base_len = len(prompt) + len(answer) + len(end)
    if base_len > max_seq_len:
        return None

    extra: list[int] = []
    trimmed = False
    if target.rationale:
        sep = _ids(tokenizer, SEPARATOR)
        body = _ids(tokenizer, target.rationale.strip())
        room = max_seq_len - base_len - len(sep)
        if room < len(body):
            trimmed = True
            body = body[: max(room, 0)]
        if len(body) >= MIN_RATIONALE_TOKENS:
            extra = sep + body
    # The end-of-turn label only where the turn really ended: not after a rationale a budget cut.
    ends_turn = not extra or (target.ends_turn and not trimmed)
    sequence = answer + extra + (end if ends_turn else [])
    return Example(
        input_ids=prompt + sequence,
        labels=[IGNORE_INDEX] * len(prompt) + sequence,
        rationale_tokens=len(extra),
        trimmed=trimmed,
        ends_turn=ends_turn,
    )


def build_examples(
    tokenizer: Any,
    pairs: Sequence[Pair],
    *,
    method: Method,
    template: str,
    max_seq_len: int,
    targets: Sequence[TrainingTarget | None] | None = None,
) -> tuple[list[Example], BuildStats]:
    """Tokenise a corpus for ``method``: ``targets[i]`` (None = the reference alone) for methods that
    train on generated text; supervised trains on the references."""
    if method != "supervised" and targets is None:
        raise ValueError(f"method {method!r} needs its targets")
    fmt = ChatFormat.for_tokenizer(tokenizer)
    examples: list[Example] = []
    dropped = trimmed = rat_dropped = with_rat = 0
    for i, pair in enumerate(pairs):
        target = targets[i] if targets is not None else None
        rationale = target.rationale if target else None
        ex = build_example(tokenizer, fmt, template, pair, target=target, max_seq_len=max_seq_len)
        if ex is None:
            dropped += 1
            continue
        trimmed += int(ex.trimmed and ex.rationale_tokens > 0)
        rat_dropped += int(bool(rationale) and ex.rationale_tokens == 0)
        with_rat += int(ex.rationale_tokens > 0)
        examples.append(ex)
    target_tokens = sum(e.target_tokens for e in examples)
    rationale_share = sum(e.rationale_tokens for e in examples) / target_tokens if target_tokens else 0.0
    return examples, BuildStats(
        len(examples),
        dropped,
        trimmed,
        rat_dropped,
        with_rat,
        without_end_of_turn=sum(1 for e in examples if not e.ends_turn),
        rationale_token_share=round(rationale_share, 4),
    )


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
