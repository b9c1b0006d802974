"""Placeholder preservation: does a translation keep the source's format placeholders and markup?

A localisation string such as ``Enter a valid %(protocol)s address.`` or ``The {name} “{obj}” was
added.`` is filled in by the program after translation: a translation that drops, duplicates or
translates a placeholder (``%(protokoll)s``) breaks at run time even when BLEU barely moves. This
module scores that, next to BLEU/chrF++. Pure Python (``re`` and ``collections``), no torch.

What counts as a placeholder (:func:`extract_placeholders`), each kept as its exact text:

``printf``
    Python %-formatting: ``%s``, ``%d``, ``%(name)s``, ``%(count)d``, ``%.2f``, ``%-5s``, ``%r``.
    ``%%`` (a literal percent sign) is not a placeholder. The space flag (``% d``) is not recognised,
    so prose such as ``50% off`` yields nothing.
``brace``
    :meth:`str.format` fields: ``{}``, ``{0}``, ``{count}``, ``{obj.name}``, ``{0!r}``, ``{value:>10}``.
    Doubled braces ``{{`` / ``}}`` are literal text, and a brace pair containing whitespace (``{ }``)
    is not a field.
``html``
    Markup tags: ``<code>``, ``</a>``, ``<br/>``, ``<a href="…">`` (attributes included, as written).
    A printf or brace field inside a tag's attributes counts both as part of the tag and on its own.

The rule, per item: the hypothesis **preserves** the source's placeholders iff it contains exactly the
same multiset of placeholders (same texts, each as many times). Order is free (a language may reorder
``%(a)s … %(b)s``); a missing one, an extra copy, a new one, or a changed name (``%(name)s`` →
``%(Name)s``, ``{obj}`` → ``{objekt}``) breaks it. An item whose source has no placeholder is not
scored (``None``) and is left out of the rate.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["printf", "brace", "html"]
ALL_KINDS: tuple[Kind, ...] = ("printf", "brace", "html")

# ``%%`` first, so that the percent signs it consumes are never the start of a placeholder.
_PRINTF = re.compile(r"%%|%(?:\([^()\s]*\))?[#0+\-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[diouxXeEfFgGcrsa]")
# ``{{``/``}}`` first: literal braces. A field is an optional name (identifier or number, with
# attribute/index access), an optional conversion and an optional format spec without braces.
_BRACE = re.compile(r"\{\{|\}\}|\{(?:[A-Za-z_]\w*|\d+)?(?:\.\w+|\[[^\[\]{}\s]+\])*(?:![rsa])?(?::[^{}\s]*)?\}")
_HTML = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s+[^<>]*?)?\s*/?>")


def extract_placeholders(text: str, kinds: Iterable[Kind] = ALL_KINDS) -> list[str]:
    """The placeholders of ``text`` in order of appearance, kind by kind (printf, brace, html).

    >>> extract_placeholders("Delete %(name)s? 100%% sure, {count} items, <b>now</b>")
    ['%(name)s', '{count}', '<b>', '</b>']
    """
    wanted = set(kinds)
    unknown = wanted - set(ALL_KINDS)
    if unknown:
        raise ValueError(f"unknown placeholder kinds {sorted(unknown)}; known: {', '.join(ALL_KINDS)}")
    found: list[str] = []
    if "printf" in wanted:
        found += [m for m in _PRINTF.findall(text) if m != "%%"]
    if "brace" in wanted:
        found += [m for m in _BRACE.findall(text) if m not in ("{{", "}}")]
    if "html" in wanted:
        found += _HTML.findall(text)
    return found


def placeholder_diff(source: str, hypothesis: str, kinds: Iterable[Kind] = ALL_KINDS) -> tuple[list[str], list[str]]:
    """``(missing, extra)``: the source's placeholders the hypothesis lacks, and those it has in excess.

    Both are sorted multisets; the hypothesis preserves the source's placeholders iff both are empty.
    """
    kinds = tuple(kinds)
    want, got = Counter(extract_placeholders(source, kinds)), Counter(extract_placeholders(hypothesis, kinds))
    return sorted((want - got).elements()), sorted((got - want).elements())


def preserves_placeholders(source: str, hypothesis: str, kinds: Iterable[Kind] = ALL_KINDS) -> bool | None:
    """True when the hypothesis holds exactly the source's multiset of placeholders; None when it has none."""
    kinds = tuple(kinds)
    want = Counter(extract_placeholders(source, kinds))
    if not want:
        return None
    return want == Counter(extract_placeholders(hypothesis, kinds))


@dataclass(frozen=True)
class PlaceholderScore:
    """Placeholder preservation over a test set.

    ``per_item[i]`` is True/False for an item whose source has placeholders, None for one without;
    ``n`` counts the scored items, ``preserved`` the True ones, ``rate`` is ``preserved / n`` (None
    when no source has a placeholder).
    """

    n: int
    preserved: int
    rate: float | None
    per_item: list[bool | None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"n", "preserved", "rate", "per_item"}``."""
        return {"n": self.n, "preserved": self.preserved, "rate": self.rate, "per_item": list(self.per_item)}


def placeholder_preservation(
    sources: Sequence[str], hypotheses: Sequence[str], kinds: Iterable[Kind] = ALL_KINDS
) -> PlaceholderScore:
    """Score each hypothesis against its source with :func:`preserves_placeholders` (see the module rule).

    Raises ValueError when the two lists differ in length.
    """
    if len(sources) != len(hypotheses):
        raise ValueError(f"{len(sources)} sources but {len(hypotheses)} hypotheses")
    kinds = tuple(kinds)
    per_item = [preserves_placeholders(s, h, kinds) for s, h in zip(sources, hypotheses, strict=True)]
    scored = [flag for flag in per_item if flag is not None]
    preserved = sum(scored)
    return PlaceholderScore(
        n=len(scored), preserved=preserved, rate=preserved / len(scored) if scored else None, per_item=per_item
    )
