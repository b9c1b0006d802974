"""Quality filter for generated rationales.

Small models fall into loops and sometimes parrot the prompt. Training on that would teach the
loop, so a rejected rationale is dropped and its pair trains on the reference alone; the report
counts each reason.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class FilterSettings:
    """Thresholds of the rationale filter."""

    min_words: int = 5
    ngram: int = 4
    #: Largest share of the rationale's n-grams that may be repeats before it counts as degenerate.
    max_repeated_ngram_share: float = 0.35
    max_repeated_line_share: float = 0.5
    #: Largest share of rationale n-grams found in the prompt (source + instruction) before it is an echo.
    max_echo_share: float = 0.8


@dataclass(frozen=True)
class Verdict:
    """``reason`` is None for a kept rationale, else one of ``empty``, ``degenerate``, ``prompt_echo``,
    ``unfinished`` (the budget cut it and no complete sentence was left)."""

    kept: bool
    reason: str | None
    detail: str = ""


def _ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def judge(rationale: str, *, prompt: str, reference: str, settings: FilterSettings = FilterSettings()) -> Verdict:
    """Decide whether a rationale is worth training on."""
    text = rationale.strip()
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < settings.min_words:
        return Verdict(False, "empty", f"{len(words)} words")

    grams = _ngrams(words, settings.ngram)
    if grams:
        counts = Counter(grams)
        repeated = sum(c - 1 for c in counts.values() if c > 1)
        share = repeated / len(grams)
        if share > settings.max_repeated_ngram_share:
            return Verdict(False, "degenerate", f"{share:.0%} repeated {settings.ngram}-grams")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 3:
        line_counts = Counter(lines)
        dup = sum(c - 1 for c in line_counts.values() if c > 1) / len(lines)
        if dup > settings.max_repeated_line_share:
            return Verdict(False, "degenerate", f"{dup:.0%} repeated lines")

    if grams:
        context = [w.lower() for w in _WORD.findall(prompt + " " + reference)]
        context_grams = set(_ngrams(context, settings.ngram))
        echo = sum(1 for g in grams if g in context_grams) / len(grams)
        if echo > settings.max_echo_share:
            return Verdict(False, "prompt_echo", f"{echo:.0%} of its {settings.ngram}-grams copy the prompt")
    return Verdict(True, None)


# A sentence ends at . ! ? … (or their CJK forms), possibly followed by closing quotes or brackets, then
# whitespace or the end of the text.
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’)\]]*(?=\s|$)")
# "2." at the start of a line numbers a list item; it ends nothing.
_LIST_MARKER = re.compile(r"(?:^|\n)\s*\d+\.$")


def last_complete_sentence(text: str, *, min_words: int = 5) -> str | None:
    """``text`` up to the end of its last complete sentence, or ``None`` when fewer than ``min_words``
    words would remain. For a continuation the token budget cut: what the model did finish."""
    end = None
    for match in _SENTENCE_END.finditer(text):
        if not _LIST_MARKER.search(text[: match.end()]):
            end = match.end()
    if end is None:
        return None
    kept = text[:end].rstrip()
    return kept if len(_WORD.findall(kept)) >= min_words else None
