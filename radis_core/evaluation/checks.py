"""Programmatic verifiers for instruction-following probes (IFEval-style).

Each check is a small pydantic model whose ``type`` field selects it, so a probe line such as
``{"type": "max_words", "n": 40}`` is validated (unknown types, missing or wrong parameters are
rejected by name) and then called with :meth:`Check.passes`. The semantics follow Google's IFEval
reference verifiers (``google-research/instruction_following_eval``) where IFEval has the same
instruction: words are ``\\w+`` runs, ``ends_with``/``starts_with`` ignore case and surrounding
whitespace, ``json_format`` tolerates a Markdown code fence. Bullets are lines starting with "* "
or "- " (IFEval's regex also counts "---" rules; ours does not). Scoring is strict: the reply is checked as written, with no loosening transformations.
"""

from __future__ import annotations

import json
import re
from abc import abstractmethod
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
PositiveInt = Annotated[int, Field(ge=1)]

_WORD = re.compile(r"\w+")
# A bullet is "* " or "- " then text at a line start: "**bold**" and "---" rules are not bullets.
_BULLET = re.compile(r"^[ \t]*[*-][ \t]+\S", re.MULTILINE)
_NUMBERED_ITEM = re.compile(r"^\s*\d+[.)]\s+\S", re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_TITLE = re.compile(r"<<([^\n]+?)>>")
_CODE_FENCE_OPEN = re.compile(r"^```[A-Za-z]*\s*")


def count_words(text: str) -> int:
    """Number of ``\\w+`` runs, IFEval's word count (so "don't" is two words)."""
    return len(_WORD.findall(text))


def _contains_word(text: str, word: str) -> bool:
    # Word boundaries keep "cat" from matching "category"; a phrase matches as a whole.
    return re.search(rf"\b{re.escape(word)}\b", text, flags=re.IGNORECASE) is not None


class _Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    if TYPE_CHECKING:  # each check declares it as the Literal of its name (the discriminator); not a field here
        type: str

    @abstractmethod
    def passes(self, reply: str) -> bool:
        """True when ``reply`` satisfies this instruction."""


class Lowercase(_Check):
    """Every cased letter is lowercase (and there is at least one letter)."""

    type: Literal["lowercase"]

    def passes(self, reply: str) -> bool:
        return reply.islower()


class Uppercase(_Check):
    """Every cased letter is uppercase (and there is at least one letter)."""

    type: Literal["uppercase"]

    def passes(self, reply: str) -> bool:
        return reply.isupper()


class MaxWords(_Check):
    """At most ``n`` words."""

    type: Literal["max_words"]
    n: PositiveInt

    def passes(self, reply: str) -> bool:
        return count_words(reply) <= self.n


class MinWords(_Check):
    """At least ``n`` words."""

    type: Literal["min_words"]
    n: PositiveInt

    def passes(self, reply: str) -> bool:
        return count_words(reply) >= self.n


class ExactBullets(_Check):
    """Exactly ``n`` Markdown bullet points ("* " or "- ")."""

    type: Literal["exact_bullets"]
    n: PositiveInt

    def passes(self, reply: str) -> bool:
        return len(_BULLET.findall(reply)) == self.n


class ContainsKeyword(_Check):
    """Every word (or phrase) in ``words`` appears, case-insensitively, as a whole word."""

    type: Literal["contains_keyword"]
    words: Annotated[list[NonEmptyStr], Field(min_length=1)]

    def passes(self, reply: str) -> bool:
        return all(_contains_word(reply, w) for w in self.words)


class ForbiddenWords(_Check):
    """None of ``words`` appears, case-insensitively, as a whole word."""

    type: Literal["forbidden_words"]
    words: Annotated[list[NonEmptyStr], Field(min_length=1)]

    def passes(self, reply: str) -> bool:
        return not any(_contains_word(reply, w) for w in self.words)


class EndsWith(_Check):
    """The reply ends with ``phrase`` (case-insensitive; surrounding whitespace and quotes ignored, as IFEval)."""

    type: Literal["ends_with"]
    phrase: NonEmptyStr

    def passes(self, reply: str) -> bool:
        return reply.strip().strip('"').lower().endswith(self.phrase.lower())


class StartsWith(_Check):
    """The reply starts with ``phrase`` (case-insensitive; leading whitespace and quotes ignored)."""

    type: Literal["starts_with"]
    phrase: NonEmptyStr

    def passes(self, reply: str) -> bool:
        return reply.strip().strip('"').lower().startswith(self.phrase.lower())


class NoCommas(_Check):
    """No comma at all (ASCII or full-width)."""

    type: Literal["no_commas"]

    def passes(self, reply: str) -> bool:
        return "," not in reply and "\uff0c" not in reply


class JsonFormat(_Check):
    """The whole reply is valid JSON, optionally inside one Markdown code fence (IFEval allows the fence)."""

    type: Literal["json_format"]

    def passes(self, reply: str) -> bool:
        text = reply.strip()
        if text.startswith("```"):
            text = _CODE_FENCE_OPEN.sub("", text, count=1)
            text = text.removesuffix("```").strip()
        try:
            json.loads(text)
        except ValueError:
            return False
        return True


class NumberedList(_Check):
    """Exactly ``n`` numbered items ("1." or "1)" at the start of a line)."""

    type: Literal["numbered_list"]
    n: PositiveInt

    def passes(self, reply: str) -> bool:
        return len(_NUMBERED_ITEM.findall(reply)) == self.n


class Quotation(_Check):
    """The whole reply is wrapped in double quotes (straight or typographic)."""

    type: Literal["quotation"]

    def passes(self, reply: str) -> bool:
        text = reply.strip()
        if len(text) < 2:
            return False
        return (text[0], text[-1]) in {('"', '"'), ("\u201c", "\u201d")}


class Paragraphs(_Check):
    """Exactly ``n`` non-empty paragraphs separated by blank lines."""

    type: Literal["paragraphs"]
    n: PositiveInt

    def passes(self, reply: str) -> bool:
        parts = [p for p in _PARAGRAPH_BREAK.split(reply.strip()) if p.strip()]
        return len(parts) == self.n


class Title(_Check):
    """A non-empty title wrapped in double angular brackets, e.g. <<the sea>>."""

    type: Literal["title"]

    def passes(self, reply: str) -> bool:
        return any(t.strip() for t in _TITLE.findall(reply))


_CHECK_CLASSES: tuple[type[_Check], ...] = (
    Lowercase,
    Uppercase,
    MaxWords,
    MinWords,
    ExactBullets,
    ContainsKeyword,
    ForbiddenWords,
    EndsWith,
    StartsWith,
    NoCommas,
    JsonFormat,
    NumberedList,
    Quotation,
    Paragraphs,
    Title,
)

# Union over the runtime tuple of classes: mypy cannot read a type built from a variable, and | cannot spell it.
Check = Annotated[Union[_CHECK_CLASSES], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007 (see above)
"""One verifiable instruction; the ``type`` field picks the class."""

#: The ``type`` names a probe may use, in declaration order.
CHECK_TYPES: tuple[str, ...] = tuple(get_args(cls.model_fields["type"].annotation)[0] for cls in _CHECK_CLASSES)

_CHECK_ADAPTER: TypeAdapter[_Check] = TypeAdapter(Check)


def parse_check(spec: dict[str, Any] | _Check) -> _Check:
    """Validate one check spec (``{"type": ..., ...}``); raises ``pydantic.ValidationError`` naming the field."""
    if isinstance(spec, _Check):
        return spec
    return _CHECK_ADAPTER.validate_python(spec)


def evaluate_checks(reply: str, checks: list[dict[str, Any]] | list[_Check]) -> list[dict[str, Any]]:
    """Run every check on ``reply``; returns ``[{"type": ..., "passed": bool}, ...]`` in order."""
    results: list[dict[str, Any]] = []
    for spec in checks:
        check = parse_check(spec)
        results.append({"type": check.type, "passed": bool(check.passes(reply))})
    return results
