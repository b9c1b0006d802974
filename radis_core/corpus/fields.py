"""Field checks shared by every format: a required text, a language code, then the cross-field rules.

A :class:`RecordChecker` collects the problems of one record while its fields are looked at, so that a
record reports every bad field at once instead of only the first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from radis_core import languages
from radis_core.corpus.limits import CorpusLimits
from radis_core.corpus.records import Pair, Record
from radis_core.corpus.report import Problem, Severity, make_problem, quote


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages such as ``must be a string, got number``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class RecordChecker:
    """Collects the problems of one record while its fields are checked."""

    def __init__(self, number: int, excerpt: str, limits: CorpusLimits):
        self.number = number
        self.excerpt = excerpt
        self.limits = limits
        self.problems: list[Problem] = []

    def add(self, code: str, text: str, *, field: str | None = None, severity: Severity = "error") -> None:
        """Record a problem of this record (its message gets the ``line N:`` prefix)."""
        self.problems.append(
            make_problem(code, self.number, text, self.excerpt, limits=self.limits, severity=severity, field=field)
        )

    def quote(self, value: Any) -> str:
        """``value`` quoted for a message, within this record's limits."""
        return quote(value, self.limits)

    @property
    def failed(self) -> bool:
        """True once an error (not only warnings) has been recorded."""
        return bool(self.problems) and any(p.severity == "error" for p in self.problems)

    def rejected(self) -> Record:
        """The record with its problems and no pair."""
        return Record(self.number, None, self.problems)

    def text(self, value: Any, name: str, *, present: bool = True) -> str | None:
        """A required text field, stripped; records a problem and returns None when unusable."""
        if not present:
            self.add("missing_field", f'field "{name}" is missing', field=name)
            return None
        if not isinstance(value, str):
            self.add("wrong_type", f'field "{name}" must be a string, got {json_type(value)}', field=name)
            return None
        stripped = value.strip()
        if not stripped:
            self.add("empty_field", f'field "{name}" is empty', field=name)
            return None
        if "\x00" in stripped:
            self.add("nul_byte", f'field "{name}" contains a NUL character', field=name)
            return None
        try:
            stripped.encode("utf-8")
        except UnicodeEncodeError:
            # JSON can spell lone surrogates ("\ud800"); they are not text and cannot be stored as UTF-8.
            self.add("not_utf8", f'field "{name}" contains an unpaired surrogate escape', field=name)
            return None
        return stripped

    def language(self, candidates: Iterable[tuple[Any, str]], name: str) -> str | None:
        """The first present value among ``(value, field)`` candidates, normalised; None after a problem."""
        for value, where in candidates:
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                self.add("wrong_type", f'field "{where}" must be a language code string, got {json_type(value)}', field=where)
                return None
            try:
                return languages.normalize(value)
            except ValueError:
                self.add("unknown_language", f'field "{where}": unknown language code {self.quote(value)}', field=where)
                return None
        self.add(
            "missing_language",
            f'no {name}: give "{name}" in the record or pass {name} with the file',
            field=name,
        )
        return None

    def finish(self, source: str | None, target: str | None, src: str | None, tgt: str | None) -> Record:
        """Cross-field checks, then the Pair (or only the problems)."""
        if src is not None and tgt is not None and src == tgt:
            self.add("same_language", f'source and target language are both "{src}"', field="tgt_lang")
        if self.failed or source is None or target is None or src is None or tgt is None:
            return self.rejected()
        if source == target:
            # A warning, not an error: names and numbers legitimately translate to themselves.
            self.add("source_equals_target", "source and target are the same text", field="target", severity="warning")
        return Record(self.number, Pair(source, target, src, tgt, self.number), self.problems)
