"""Problems and the validation report: what is wrong with a corpus, line by line, and the totals.

The problem codes, messages and the report's dict shape are an API (the web service returns them and
clients pin the strings): change them only on purpose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from radis_core.corpus.limits import CorpusLimits

#: Every problem code a report may contain (tests and API clients pin these strings).
PROBLEM_CODES: frozenset[str] = frozenset(
    {
        "not_utf8",
        "bom",
        "not_json",
        "not_object",
        "missing_field",
        "empty_field",
        "wrong_type",
        "unknown_language",
        "missing_language",
        "same_language",
        "source_equals_target",
        "duplicate",
        "too_long",
        "too_few_examples",
        "unknown_format",
        "bad_header",
        "mixed_language_pairs",
        "nul_byte",
        # Beyond the list above: a CSV/TSV row or chat line whose shape is wrong (column count, a CSV
        # quoting error, a multi-turn conversation), and header columns that are not used.
        "malformed_record",
        "ignored_columns",
    }
)

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a corpus. ``message`` starts with ``line N:`` when ``line`` is set."""

    code: str
    line: int | None
    message: str
    excerpt: str = ""
    severity: Severity = "error"
    field: str | None = None

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "code": self.code,
            "line": self.line,
            "message": self.message,
            "excerpt": self.excerpt,
            "severity": self.severity,
            "field": self.field,
        }


def excerpt(text: str, limits: CorpusLimits) -> str:
    """``text`` cut to ``limits.max_excerpt_chars`` (an ellipsis marks a cut), safe to store."""
    # NUL is replaced because Postgres text/jsonb columns reject it and reports get stored.
    text = text.replace("\x00", "\u2400")
    cap = limits.max_excerpt_chars
    return text if len(text) <= cap else text[: cap - 1] + "\u2026"


def quote(value: Any, limits: CorpusLimits) -> str:
    """A value as JSON (ASCII only), cut to ``limits.max_quoted_chars``, for use inside a message."""
    shown = json.dumps(value, ensure_ascii=True)
    cap = limits.max_quoted_chars
    return shown if len(shown) <= cap else shown[: cap - 1] + "\u2026"


def make_problem(
    code: str,
    line: int | None,
    text: str,
    excerpt_of: str = "",
    *,
    limits: CorpusLimits,
    severity: Severity = "error",
    field: str | None = None,
) -> Problem:
    """A :class:`Problem` whose message is ``line N: text`` (just ``text`` for a file-level problem)."""
    message = f"line {line}: {text}" if line is not None else text
    return Problem(code=code, line=line, message=message, excerpt=excerpt(excerpt_of, limits), severity=severity, field=field)


@dataclass
class ValidationReport:
    """What :func:`~radis_core.corpus.validate.validate_corpus` found.

    ``n_lines`` counts every physical line read (header and blank lines included); ``n_pairs`` the
    valid, de-duplicated pairs (what :func:`~radis_core.corpus.validate.load_corpus` returns).
    ``problems`` holds at most ``max_problems`` entries (``truncated`` then says some were left out; the
    first error and the file-level problems are always kept), while ``n_errors``/``n_warnings`` count
    all of them.
    """

    format: str
    n_lines: int
    n_pairs: int
    problems: list[Problem]
    language_pairs: dict[str, int]
    truncated: bool
    n_errors: int = 0
    n_warnings: int = 0

    @property
    def ok(self) -> bool:
        """True when the corpus has no error (warnings allowed)."""
        return self.n_errors == 0

    @property
    def errors(self) -> list[Problem]:
        """Stored error-severity problems."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Stored warning-severity problems."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def first_error(self) -> Problem | None:
        """The first error in file order (file-level errors such as too_few_examples come last)."""
        return next((p for p in self.problems if p.severity == "error"), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (includes ``ok``)."""
        return {
            "format": self.format,
            "ok": self.ok,
            "n_lines": self.n_lines,
            "n_pairs": self.n_pairs,
            "n_errors": self.n_errors,
            "n_warnings": self.n_warnings,
            "truncated": self.truncated,
            "language_pairs": dict(self.language_pairs),
            "problems": [p.to_dict() for p in self.problems],
        }

    def summary(self) -> str:
        """One line for people, e.g. ``jsonl_pairs: 120 lines, 118 pairs (de-en 118); 1 error: line 7: ...``."""
        langs = ", ".join(f"{k} {v}" for k, v in sorted(self.language_pairs.items()))
        head = f"{self.format}: {self.n_lines} lines, {self.n_pairs} pairs" + (f" ({langs})" if langs else "")
        counts = f"{self.n_errors} error{'s' * (self.n_errors != 1)}, {self.n_warnings} warning{'s' * (self.n_warnings != 1)}"
        first = self.first_error
        return f"{head}; {counts}" + (f"; first error: {first.message}" if first else "")


class CorpusError(ValueError):
    """A corpus has errors. ``report`` says which (the message is its summary)."""

    def __init__(self, report: ValidationReport):
        self.report = report
        super().__init__(report.summary())


class ProblemCollector:
    """Stores problems up to a cap while counting all of them; the first error is always stored."""

    def __init__(self, cap: int):
        self.cap = cap
        self.items: list[Problem] = []
        self.n_errors = 0
        self.n_warnings = 0
        self.truncated = False

    def add(self, problem: Problem, *, always: bool = False) -> None:
        """Count ``problem``; store it while under the cap, or when ``always`` (file-level problems)."""
        is_error = problem.severity == "error"
        first_error = is_error and self.n_errors == 0
        if is_error:
            self.n_errors += 1
        else:
            self.n_warnings += 1
        if always or first_error or len(self.items) < self.cap:
            self.items.append(problem)
        else:
            self.truncated = True

    def report(self, fmt: str, n_lines: int, n_pairs: int, language_pairs: dict[str, int]) -> ValidationReport:
        """The report of what was collected (it shares, not copies, the stored problems)."""
        return ValidationReport(fmt, n_lines, n_pairs, self.items, language_pairs, self.truncated, self.n_errors, self.n_warnings)
