"""Parallel corpora: read, validate and write translation pairs.

The web process validates every upload with :func:`validate_corpus`, so this module imports only the
standard library (and :mod:`radis_core.languages`; numpy once a corpus is validated, to find duplicates):
no torch, no transformers.

Accepted formats (one per file; line numbers are 1-based physical lines, the CSV/TSV header is line 1):

``jsonl_pairs``
    ``{"source": "...", "target": "...", "src_lang": "de", "tgt_lang": "en"}`` per line. ``src_lang`` /
    ``tgt_lang`` may be left out when the caller passes them.
``jsonl_translation``
    Hugging Face style ``{"translation": {"de": "...", "en": "..."}}``. Which side is the source: the
    record's own ``src_lang``/``tgt_lang`` if present, else the caller's, else the key order of the
    ``translation`` object (first key = source, second = target; then it must have exactly two keys).
``jsonl_chat``
    OpenAI chat fine-tuning lines ``{"messages": [system?, user, assistant]}``: the user turn is the
    source and the assistant turn the target. A user turn that starts with an instruction such as
    ``Translate the following text from German to English.\\n\\n<text>`` has the instruction stripped
    and the languages read from it. Multi-turn conversations are not translation pairs (an error).
``tsv`` / ``csv``
    A header row naming the columns ``source`` and ``target`` (optionally ``src_lang``, ``tgt_lang``;
    other columns are ignored with a warning), or exactly two language-code columns such as ``de,en``.
    CSV follows RFC 4180 (quoted fields may span lines; a record is numbered by its first line, the
    delimiter is ``;`` when the header has ``;`` and no ``,``). TSV is the plain tab-separated format:
    one record per line, no quoting, so a text may not contain a tab or a newline.

Languages: a value in the record wins over an instruction in a chat line, which wins over the
caller's ``src_lang``/``tgt_lang`` (the caller's values fill in what a record leaves out). Codes are
normalised (``deu``/``de-DE`` → ``de``). Texts are stripped of surrounding whitespace.

Problems are reported with the exact codes in :data:`PROBLEM_CODES`. Errors make a report not ``ok``;
warnings do not: ``bom`` (a UTF-8 byte-order mark, stripped), ``duplicate`` (an identical pair seen
earlier; only the first one is kept), ``source_equals_target`` (kept: names and numbers legitimately
match), ``mixed_language_pairs`` and ``ignored_columns``. Everything else is an error, and a line
with an error contributes no pair.

Reading is streaming: lines are read in binary one at a time, and a line longer than
``max_line_bytes`` is reported (``too_long``) and skipped without being held in memory. Finding
duplicates keeps about 12 bytes per distinct pair (a 64-bit digest and the line).
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import os
import re
import tempfile
from array import array
from collections import Counter
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _json_string
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Literal

from radis_core import languages

#: The formats :func:`detect_format` can return.
FORMATS: tuple[str, ...] = ("jsonl_pairs", "jsonl_translation", "jsonl_chat", "tsv", "csv")

#: Every problem code a report may contain (tests and API clients pin these strings).
PROBLEM_CODES: frozenset[str] = frozenset(
    {
        "not_utf8", "bom", "not_json", "not_object", "missing_field", "empty_field", "wrong_type",
        "unknown_language", "missing_language", "same_language", "source_equals_target", "duplicate",
        "too_long", "too_few_examples", "unknown_format", "bad_header", "mixed_language_pairs", "nul_byte",
        # Beyond the list above: a CSV/TSV row or chat line whose shape is wrong (column count, a CSV
        # quoting error, a multi-turn conversation), and header columns that are not used.
        "malformed_record", "ignored_columns",
    }
)

#: Lines longer than this (bytes) are reported as ``too_long`` and skipped unread.
DEFAULT_MAX_LINE_BYTES = 1 << 20
#: Longest excerpt of offending text stored with a problem.
MAX_EXCERPT = 80

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".tsv": "tsv", ".tab": "tsv", ".csv": "csv"}
_SNIFF_LINES = 20

Severity = Literal["error", "warning"]


# --------------------------------------------------------------------------------------------------
# Data types
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """One translation example. ``line`` is the 1-based line of the file it came from."""

    source: str
    target: str
    src_lang: str
    tgt_lang: str
    line: int

    @property
    def pair_hash(self) -> str:
        """sha256 (hex) of the canonical JSON of source, target and languages; the line is not part of it.

        Canonical JSON: ``{"source":…,"src_lang":…,"target":…,"tgt_lang":…}`` -- keys sorted, no spaces,
        UTF-8 without escaping (what ``json.dumps(d, sort_keys=True, separators=(",", ":"),
        ensure_ascii=False)`` writes). Rationale caches key on it: never change it.
        """
        cached = self.__dict__.get("_pair_hash")
        if cached is None:
            cached = hashlib.sha256(_canonical_json(self).encode("utf-8")).hexdigest()
            self.__dict__["_pair_hash"] = cached  # frozen: bypass __setattr__ for the cache
        return cached

    def to_dict(self) -> dict[str, str]:
        """The record as written by :func:`write_jsonl` (``jsonl_pairs`` format)."""
        return {"source": self.source, "target": self.target, "src_lang": self.src_lang, "tgt_lang": self.tgt_lang}


def _canonical_json(pair: Pair) -> str:
    """The canonical JSON of a pair (see :attr:`Pair.pair_hash`)."""
    # Spelled out rather than json.dumps(sort_keys=True): 4x faster, same bytes (a test pins it).
    return (
        f'{{"source":{_json_string(pair.source)},"src_lang":{_json_string(pair.src_lang)},'
        f'"target":{_json_string(pair.target)},"tgt_lang":{_json_string(pair.tgt_lang)}}}'
    )


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


@dataclass
class ValidationReport:
    """What :func:`validate_corpus` found.

    ``n_lines`` counts every physical line read (header and blank lines included); ``n_pairs`` the
    valid, de-duplicated pairs (what :func:`load_corpus` returns). ``problems`` holds at most
    ``max_problems`` entries (``truncated`` then says some were left out; the first error and the
    file-level problems are always kept), while ``n_errors``/``n_warnings`` count all of them.
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


@dataclass
class Record:
    """One logical record of a file: a pair, problems, or a pair with warnings."""

    line: int
    pair: Pair | None
    problems: list[Problem] = field(default_factory=list)


class CorpusError(ValueError):
    """A corpus has errors. ``report`` says which (the message is its summary)."""

    def __init__(self, report: ValidationReport):
        self.report = report
        super().__init__(report.summary())


class UnknownFormatError(ValueError):
    """:func:`detect_format` could not tell what a file is."""


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def _excerpt(text: str) -> str:
    # NUL is replaced because Postgres text/jsonb columns reject it and reports get stored.
    text = text.replace("\x00", "\u2400")
    return text if len(text) <= MAX_EXCERPT else text[: MAX_EXCERPT - 1] + "\u2026"


def _quote(value: Any) -> str:
    shown = json.dumps(value, ensure_ascii=True)
    return shown if len(shown) <= 40 else shown[:39] + "\u2026"


def _problem(
    code: str, line: int | None, text: str, excerpt: str = "", *, severity: Severity = "error", field: str | None = None
) -> Problem:
    message = f"line {line}: {text}" if line is not None else text
    return Problem(code=code, line=line, message=message, excerpt=_excerpt(excerpt), severity=severity, field=field)


def _json_type(value: Any) -> str:
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


def approx_token_count(text: str) -> int:
    """Cheap token estimate used when no tokenizer is given: ``ceil(len(utf8 bytes) / 3)``.

    BPE tokenizers average about 4 bytes per token on English and about one token per CJK character
    (3 UTF-8 bytes), so dividing by 3 over-estimates rather than under-estimates: a pair it accepts
    fits the budget with almost any tokenizer.
    """
    return math.ceil(len(text.encode("utf-8")) / 3)


# --------------------------------------------------------------------------------------------------
# Physical lines
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _RawLine:
    number: int
    data: bytes  # without the line ending; empty when too_long
    too_long: bool
    has_newline: bool


def _physical_lines(fh: IO[bytes], max_line_bytes: int) -> Iterator[_RawLine]:
    """Yield lines one at a time; a line over ``max_line_bytes`` is drained in chunks, never held."""
    number = 0
    while True:
        chunk = fh.readline(max_line_bytes + 1)
        if not chunk:
            return
        number += 1
        has_newline = chunk.endswith(b"\n")
        too_long = False
        if not has_newline and len(chunk) > max_line_bytes:
            too_long = True
            while True:
                rest = fh.readline(1 << 16)
                if not rest or rest.endswith(b"\n"):
                    has_newline = bool(rest)
                    break
        data = b"" if too_long else chunk.rstrip(b"\n").removesuffix(b"\r")
        if not too_long and len(data) > max_line_bytes:
            too_long, data = True, b""
        yield _RawLine(number, data, too_long, has_newline)


def _decode_line(raw: _RawLine, max_line_bytes: int) -> tuple[str | None, list[Problem]]:
    """Text of a line, or the problems that make it unreadable (too long, NUL bytes, not UTF-8)."""
    if raw.too_long:
        return None, [_problem("too_long", raw.number, f"line is longer than {max_line_bytes} bytes; skipped")]
    try:
        text = raw.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw.data[exc.start : exc.start + 1].hex()
        shown = raw.data.decode("utf-8", errors="replace")
        return None, [_problem("not_utf8", raw.number, f"not valid UTF-8 (byte 0x{bad} at byte offset {exc.start})", shown)]
    if "\x00" in text:
        return None, [_problem("nul_byte", raw.number, f"contains a NUL byte at column {text.index(chr(0)) + 1}", text)]
    return text, []


# --------------------------------------------------------------------------------------------------
# Format detection
# --------------------------------------------------------------------------------------------------


def _sniff_texts(path: Path) -> Iterator[str]:
    """The first non-blank lines of a file, decoded leniently (a BOM stripped)."""
    with open(path, "rb") as fh:
        seen = 0
        for raw in _physical_lines(fh, DEFAULT_MAX_LINE_BYTES):
            data = raw.data[3:] if raw.number == 1 and raw.data.startswith(_UTF8_BOM) else raw.data
            if raw.too_long or not data.strip():
                continue
            yield data.decode("utf-8", errors="replace")
            seen += 1
            if seen >= _SNIFF_LINES:
                return


def _starts_with_utf16_bom(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) in _UTF16_BOMS


def detect_format(path: str | os.PathLike[str], filename: str | None = None) -> str:
    """Tell the format of a corpus file: one of :data:`FORMATS`.

    The extension (of ``filename`` when given, e.g. the name of an upload stored under an id, else of
    ``path``) decides first: ``.csv``, ``.tsv``/``.tab``, or ``.jsonl``/``.ndjson``/``.json``. JSON Lines
    files are told apart by the first JSON object among the first 20 non-blank lines (``messages`` →
    chat, ``translation`` → HF translation, else pairs). Without a known extension the first non-blank
    line decides: ``{`` or ``[`` → JSON Lines, a tab → TSV, a comma or semicolon → CSV. Raises
    :class:`UnknownFormatError` when nothing fits, :class:`FileNotFoundError` for a missing file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such corpus file: {path}")
    family = _EXTENSIONS.get(Path(filename or path.name).suffix.lower())
    if family in ("tsv", "csv"):
        return family
    if family is None:
        if _starts_with_utf16_bom(path):
            raise UnknownFormatError("file is UTF-16 encoded (it starts with a UTF-16 byte-order mark); save it as UTF-8")
        first = next(_sniff_texts(path), None)
        if first is None:
            raise UnknownFormatError("file is empty (no non-blank line)")
        stripped = first.lstrip()
        if stripped.startswith(("{", "[")):
            family = "jsonl"
        elif "\t" in first:
            return "tsv"
        elif "," in first or ";" in first:
            return "csv"
        else:
            raise UnknownFormatError(
                f"cannot tell the format from the name {filename or path.name!r} or the first line "
                f"{_excerpt(first)!r}: use .jsonl, .csv or .tsv"
            )
    for text in _sniff_texts(path):
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            if "messages" in obj:
                return "jsonl_chat"
            if "translation" in obj:
                return "jsonl_translation"
            return "jsonl_pairs"
    return "jsonl_pairs"


# --------------------------------------------------------------------------------------------------
# Record parsing
# --------------------------------------------------------------------------------------------------

# "Translate the following text from German to English.\n\n<text>", "Translate from German into
# English: <text>", "Translate to English:\n<text>" -- the instruction of this project's own default
# template and its common variants.
_LANG_NAME = r"[^\W\d_][^\n.:]*?"
_INSTRUCTION = re.compile(
    r"^\s*translate\s+(?:the\s+following\s+)?(?:(?:text|sentence|sentences|passage|paragraph|segment)\s+)?"
    rf"(?:from\s+(?P<src>{_LANG_NAME})\s+)?(?:in)?to\s+(?P<tgt>{_LANG_NAME})\s*"
    r"(?:[.:]?[ \t]*\r?\n|:[ \t]+)\s*(?P<text>\S.*)\Z",
    re.IGNORECASE | re.DOTALL,
)


_JSON = json.JSONDecoder()


def _parse_json(text: str) -> Any:
    """``json.loads`` for one line, minus its per-call overhead (the validator parses every line)."""
    text = text.strip()
    obj, end = _JSON.raw_decode(text)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return obj


class _Line:
    """Collects the problems of one record while its fields are checked."""

    def __init__(self, number: int, excerpt: str):
        self.number = number
        self.excerpt = excerpt
        self.problems: list[Problem] = []

    def add(self, code: str, text: str, *, field: str | None = None, severity: Severity = "error") -> None:
        self.problems.append(_problem(code, self.number, text, self.excerpt, severity=severity, field=field))

    @property
    def failed(self) -> bool:
        return bool(self.problems) and any(p.severity == "error" for p in self.problems)

    def text(self, value: Any, name: str, *, present: bool = True) -> str | None:
        """A required text field, stripped; records a problem and returns None when unusable."""
        if not present:
            self.add("missing_field", f'field "{name}" is missing', field=name)
            return None
        if not isinstance(value, str):
            self.add("wrong_type", f'field "{name}" must be a string, got {_json_type(value)}', field=name)
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
                self.add("wrong_type", f'field "{where}" must be a language code string, got {_json_type(value)}', field=where)
                return None
            try:
                return languages.normalize(value)
            except ValueError:
                self.add("unknown_language", f'field "{where}": unknown language code {_quote(value)}', field=where)
                return None
        self.add(
            "missing_language",
            f'no {name}: give "{name}" in the record or pass {name} with the file',
            field=name,
        )
        return None


def _finish(rec: _Line, source: str | None, target: str | None, src: str | None, tgt: str | None) -> Record:
    """Cross-field checks, then the Pair (or only the problems)."""
    if src is not None and tgt is not None and src == tgt:
        rec.add("same_language", f'source and target language are both "{src}"', field="tgt_lang")
    if rec.failed or source is None or target is None or src is None or tgt is None:
        return Record(rec.number, None, rec.problems)
    if source == target:
        rec.add("source_equals_target", "source and target are the same text", field="target", severity="warning")
    return Record(rec.number, Pair(source, target, src, tgt, rec.number), rec.problems)


class _Parser:
    """Turns one decoded line (or CSV row) into a Record, for one file's format and caller languages."""

    def __init__(self, fmt: str, src_lang: str | None, tgt_lang: str | None):
        self.fmt = fmt
        self.src_lang = src_lang
        self.tgt_lang = tgt_lang

    # ---- JSON Lines ----

    def json_line(self, number: int, text: str, is_last_unterminated: bool) -> Record:
        rec = _Line(number, text)
        try:
            obj = _parse_json(text)
        except json.JSONDecodeError as exc:
            hint = " (the last line has no newline: was the file cut short?)" if is_last_unterminated else ""
            rec.add("not_json", f"not valid JSON ({exc.msg}, column {exc.colno}){hint}")
            return Record(number, None, rec.problems)
        except RecursionError:
            rec.add("not_json", "not valid JSON: nested too deeply")
            return Record(number, None, rec.problems)
        except ValueError as exc:
            rec.add("not_json", f"not valid JSON: {exc}")
            return Record(number, None, rec.problems)
        if not isinstance(obj, dict):
            rec.add("not_object", f"expected a JSON object, got {_json_type(obj)}")
            return Record(number, None, rec.problems)
        shape = _shape(obj)
        if shape is not None and shape != self.fmt:
            key = _KEY_FIELD[self.fmt]
            rec.add(
                "missing_field",
                f'field "{key}" is missing: this line is in {shape} format, but the file\'s first record made it '
                f"{self.fmt}; use one format per file",
                field=key,
            )
            return Record(number, None, rec.problems)
        if self.fmt == "jsonl_translation":
            return self._translation(rec, obj)
        if self.fmt == "jsonl_chat":
            return self._chat(rec, obj)
        return self._pairs(rec, obj)

    def _pairs(self, rec: _Line, obj: dict[str, Any]) -> Record:
        source = rec.text(obj.get("source"), "source", present="source" in obj)
        target = rec.text(obj.get("target"), "target", present="target" in obj)
        src = rec.language([(obj.get("src_lang"), "src_lang"), (self.src_lang, "src_lang")], "src_lang")
        tgt = rec.language([(obj.get("tgt_lang"), "tgt_lang"), (self.tgt_lang, "tgt_lang")], "tgt_lang")
        return _finish(rec, source, target, src, tgt)

    def _translation(self, rec: _Line, obj: dict[str, Any]) -> Record:
        if "translation" not in obj:
            rec.add("missing_field", 'field "translation" is missing', field="translation")
            return Record(rec.number, None, rec.problems)
        table = obj["translation"]
        if not isinstance(table, dict):
            rec.add("wrong_type", f'field "translation" must be an object, got {_json_type(table)}', field="translation")
            return Record(rec.number, None, rec.problems)
        keys: dict[str, str] = {}  # normalised code -> key as written
        for key in table:
            try:
                keys.setdefault(languages.normalize(key), key)
            except ValueError:
                rec.add("unknown_language", f"field \"translation\": unknown language code {_quote(key)}", field=f"translation.{key}")
        if rec.failed:
            return Record(rec.number, None, rec.problems)
        src, tgt = self._choose_sides(rec, obj, list(keys))
        if src is None or tgt is None:
            return Record(rec.number, None, rec.problems)
        texts = []
        for code in (src, tgt):
            key = keys.get(code)
            where = f"translation.{key or code}"
            texts.append(rec.text(table.get(key), where, present=key is not None))
        return _finish(rec, texts[0], texts[1], src, tgt)

    def _choose_sides(self, rec: _Line, obj: dict[str, Any], codes: list[str]) -> tuple[str | None, str | None]:
        src = tgt = None
        for value, where, side in ((obj.get("src_lang"), "src_lang", "src"), (obj.get("tgt_lang"), "tgt_lang", "tgt")):
            if value is None:
                continue
            code = rec.language([(value, where)], where)
            if code is None:
                return None, None
            src, tgt = (code, tgt) if side == "src" else (src, code)
        src = src or self.src_lang
        tgt = tgt or self.tgt_lang
        if src is None and tgt is None:
            if len(codes) == 2:
                return codes[0], codes[1]
        elif src is None or tgt is None:
            others = [c for c in codes if c != (src or tgt)]
            if len(others) == 1:
                return (src, others[0]) if src is not None else (others[0], tgt)
        else:
            return src, tgt
        listed = ", ".join(codes) or "none"
        rec.add(
            "missing_language",
            f'cannot tell source from target: "translation" has languages {listed}; pass src_lang and tgt_lang',
            field="translation",
        )
        return None, None

    def _chat(self, rec: _Line, obj: dict[str, Any]) -> Record:
        if "messages" not in obj:
            rec.add("missing_field", 'field "messages" is missing', field="messages")
            return Record(rec.number, None, rec.problems)
        messages = obj["messages"]
        if not isinstance(messages, list):
            rec.add("wrong_type", f'field "messages" must be an array, got {_json_type(messages)}', field="messages")
            return Record(rec.number, None, rec.problems)
        turns: list[tuple[int, str, dict[str, Any]]] = []
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                rec.add("wrong_type", f'field "messages[{i}]" must be an object, got {_json_type(message)}', field=f"messages[{i}]")
                continue
            role = message.get("role")
            if role is None:
                rec.add("missing_field", f'field "messages[{i}].role" is missing', field=f"messages[{i}].role")
                continue
            if not isinstance(role, str):
                rec.add("wrong_type", f'field "messages[{i}].role" must be a string, got {_json_type(role)}', field=f"messages[{i}].role")
                continue
            if role in ("system", "developer"):
                continue
            turns.append((i, role, message))
        if rec.failed:
            return Record(rec.number, None, rec.problems)
        roles = [role for _, role, _ in turns]
        for needed in ("user", "assistant"):
            if needed not in roles:
                rec.add("missing_field", f'no "{needed}" message in "messages"', field="messages")
        if rec.failed:
            return Record(rec.number, None, rec.problems)
        if roles != ["user", "assistant"]:
            rec.add(
                "malformed_record",
                f"expected one user turn then one assistant turn, got {', '.join(roles)} (a multi-turn conversation is not a translation pair)",
                field="messages",
            )
            return Record(rec.number, None, rec.problems)
        (ui, _, user), (ai, _, assistant) = turns
        source = rec.text(_content_text(user.get("content")), f"messages[{ui}].content", present="content" in user)
        target = rec.text(_content_text(assistant.get("content")), f"messages[{ai}].content", present="content" in assistant)
        inferred_src = inferred_tgt = None
        if source is not None:
            match = _INSTRUCTION.match(source)
            if match:
                where = f"messages[{ui}].content"
                inferred_src = _language_from_name(rec, match.group("src"), where)
                inferred_tgt = _language_from_name(rec, match.group("tgt"), where)
                source = match.group("text").strip()
        src = rec.language(
            [(obj.get("src_lang"), "src_lang"), (inferred_src, "src_lang"), (self.src_lang, "src_lang")], "src_lang"
        )
        tgt = rec.language(
            [(obj.get("tgt_lang"), "tgt_lang"), (inferred_tgt, "tgt_lang"), (self.tgt_lang, "tgt_lang")], "tgt_lang"
        )
        return _finish(rec, source, target, src, tgt)

    # ---- CSV / TSV ----

    def header(self, number: int, cells: list[str], excerpt: str) -> tuple[_Header | None, list[Problem]]:
        rec = _Line(number, excerpt)
        names = [c.strip().lower() for c in cells]
        if "source" in names or "target" in names:
            return self._named_header(rec, names)
        nonempty = [n for n in names if n]
        if len(names) == 2 and all(languages.is_known(n) for n in nonempty) and len(nonempty) == 2:
            return self._language_header(rec, names)
        rec.add(
            "bad_header",
            'the first row must name the columns "source" and "target" (optionally "src_lang", "tgt_lang") '
            f"or be two language codes such as \"de,en\"; got {_quote(cells)}",
        )
        return None, rec.problems

    def _named_header(self, rec: _Line, names: list[str]) -> tuple[_Header | None, list[Problem]]:
        known = ("source", "target", "src_lang", "tgt_lang")
        dupes = sorted({n for n in names if names.count(n) > 1 and n in known})
        missing = [n for n in ("source", "target") if n not in names]
        if dupes or missing:
            what = f"repeats {', '.join(dupes)}" if dupes else f"lacks {', '.join(missing)}"
            rec.add("bad_header", f"header {what}; it must name the columns source and target once each")
            return None, rec.problems
        ignored = [n or "(blank)" for n in names if n not in known]
        if ignored:
            rec.add("ignored_columns", f"columns {', '.join(ignored)} are ignored", severity="warning")
        index = {n: names.index(n) for n in known if n in names}
        return _Header(index=index, n_columns=len(names), src=None, tgt=None), rec.problems

    def _language_header(self, rec: _Line, names: list[str]) -> tuple[_Header | None, list[Problem]]:
        codes = [languages.normalize(n) for n in names]
        if codes[0] == codes[1]:
            rec.add("same_language", f"both columns are language {codes[0]}")
            return None, rec.problems
        src, tgt = self.src_lang, self.tgt_lang
        for given, where in ((src, "src_lang"), (tgt, "tgt_lang")):
            if given is not None and given not in codes:
                rec.add("bad_header", f"{where} is {given} but the header's languages are {codes[0]} and {codes[1]}")
        if rec.failed:
            return None, rec.problems
        if src is None and tgt is None:
            src, tgt = codes
        elif src is None:
            src = codes[1 - codes.index(tgt)]  # type: ignore[arg-type]
        elif tgt is None:
            tgt = codes[1 - codes.index(src)]
        index = {"source": codes.index(src), "target": codes.index(tgt)}
        return _Header(index=index, n_columns=2, src=src, tgt=tgt, names=(names[index["source"]], names[index["target"]])), rec.problems

    def row(self, number: int, cells: list[str], header: _Header, excerpt: str, delimiter_name: str) -> Record:
        rec = _Line(number, excerpt)
        if len(cells) > header.n_columns:
            rec.add(
                "malformed_record",
                f"{len(cells)} columns but the header has {header.n_columns} (a {delimiter_name} inside a text?)",
            )
            return Record(number, None, rec.problems)
        source_name, target_name = header.names

        def cell(name: str) -> tuple[str | None, bool]:
            i = header.index.get(name)
            if i is None or i >= len(cells):
                return None, False
            return cells[i], True

        value, present = cell("source")
        source = rec.text(value, source_name, present=present)
        value, present = cell("target")
        target = rec.text(value, target_name, present=present)
        if header.src is not None:
            src, tgt = header.src, header.tgt
        else:
            src = rec.language([(cell("src_lang")[0], "src_lang"), (self.src_lang, "src_lang")], "src_lang")
            tgt = rec.language([(cell("tgt_lang")[0], "tgt_lang"), (self.tgt_lang, "tgt_lang")], "tgt_lang")
        return _finish(rec, source, target, src, tgt)


@dataclass
class _Header:
    index: dict[str, int]
    n_columns: int
    src: str | None
    tgt: str | None
    names: tuple[str, str] = ("source", "target")


_KEY_FIELD = {"jsonl_pairs": "source", "jsonl_translation": "translation", "jsonl_chat": "messages"}


def _shape(obj: dict[str, Any]) -> str | None:
    """The JSON Lines format a record is clearly written in, if any."""
    if "messages" in obj:
        return "jsonl_chat"
    if "translation" in obj:
        return "jsonl_translation"
    if "source" in obj or "target" in obj:
        return "jsonl_pairs"
    return None


def _content_text(content: Any) -> Any:
    """OpenAI content: a string, or a list of parts whose text parts are joined."""
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        texts = [p.get("text") for p in content]
        if all(isinstance(t, str) for t in texts):
            return "".join(texts)
    return content


def _language_from_name(rec: _Line, language_name: str | None, where: str) -> str | None:
    if language_name is None:
        return None
    # "Chinese (Simplified)" names Chinese: try the name, then the name without qualifiers.
    for candidate in (language_name, re.sub(r"\s*\(.*?\)", "", language_name)):
        try:
            return languages.code_for_name(candidate)
        except ValueError:
            pass
    rec.add("unknown_language", f"the instruction names an unknown language {_quote(language_name)}", field=where)
    return None


# --------------------------------------------------------------------------------------------------
# Streaming reader
# --------------------------------------------------------------------------------------------------


class RecordStream:
    """Iterable of :class:`Record` for one file, read lazily; ``n_lines`` grows as it is consumed.

    File-level findings (a BOM, a UTF-16 file, a bad header) arrive as records without a pair.
    Blank lines produce nothing. Iterate once.
    """

    def __init__(
        self,
        path: Path,
        fmt: str,
        src_lang: str | None,
        tgt_lang: str | None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
        self.path = path
        self.format = fmt
        self.max_line_bytes = max_line_bytes
        self.n_lines = 0
        self._parser = _Parser(fmt, src_lang, tgt_lang)

    def _lines(self, fh: IO[bytes]) -> Iterator[_RawLine]:
        for raw in _physical_lines(fh, self.max_line_bytes):
            self.n_lines = raw.number
            yield raw

    def __iter__(self) -> Iterator[Record]:
        with open(self.path, "rb") as fh:
            lines = self._lines(fh)
            first = next(lines, None)
            if first is None:
                return
            if first.data.startswith(_UTF16_BOMS):
                yield Record(1, None, [_problem("not_utf8", 1, "file is UTF-16 encoded (it starts with a UTF-16 byte-order mark); save it as UTF-8")])
                for _ in lines:  # count the lines, nothing more can be read
                    pass
                return
            if first.data.startswith(_UTF8_BOM):
                first.data = first.data[len(_UTF8_BOM) :]
                yield Record(1, None, [_problem("bom", 1, "file starts with a UTF-8 byte-order mark (stripped)", severity="warning")])
            lines = itertools.chain([first], lines)
            if self.format == "csv":
                yield from self._csv(lines)
            elif self.format == "tsv":
                yield from self._tsv(lines)
            else:
                yield from self._jsonl(lines)

    def _jsonl(self, lines: Iterator[_RawLine]) -> Iterator[Record]:
        for raw in lines:
            if not raw.too_long and not raw.data.strip():
                continue
            text, problems = _decode_line(raw, self.max_line_bytes)
            if text is None:
                yield Record(raw.number, None, problems)
                continue
            yield self._parser.json_line(raw.number, text, not raw.has_newline)

    def _tsv(self, lines: Iterator[_RawLine]) -> Iterator[Record]:
        header: _Header | None = None
        for raw in lines:
            if not raw.too_long and not raw.data.strip():
                continue
            text, problems = _decode_line(raw, self.max_line_bytes)
            if text is None:
                yield Record(raw.number, None, problems)
                if header is None:
                    break  # an unreadable header: no row can be interpreted
                continue
            cells = text.split("\t")
            if header is None:
                header, problems = self._parser.header(raw.number, cells, text)
                if problems:
                    yield Record(raw.number, None, problems)
                if header is None:
                    break
                continue
            yield self._parser.row(raw.number, cells, header, text, "tab")
        for _ in lines:  # after a bad header: count the remaining lines only
            pass

    def _csv(self, lines: Iterator[_RawLine]) -> Iterator[Record]:
        # The delimiter comes from the header line, so peek at it before building the reader.
        peeked: list[_RawLine] = []
        for raw in lines:
            peeked.append(raw)
            if raw.too_long or raw.data.strip():
                break
        head = peeked[-1].data if peeked else b""
        delimiter = ";" if b";" in head and b"," not in head else ","
        pending: list[tuple[int, list[Problem]]] = []

        def feed() -> Iterator[str]:
            for raw in itertools.chain(peeked, lines):
                text, problems = _decode_line(raw, self.max_line_bytes)
                pending.append((raw.number, problems))
                # An unreadable line still feeds a line ending, so the csv reader's records keep
                # lining up with physical lines; the record is then reported instead of parsed.
                yield (text if text is not None else "") + "\n"

        reader = csv.reader(feed(), delimiter=delimiter, strict=True)
        header: _Header | None = None
        name = "semicolon" if delimiter == ";" else "comma"
        while True:
            error: csv.Error | None = None
            try:
                cells: list[str] | None = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                cells, error = None, exc
            consumed = pending[:]
            pending.clear()
            start = consumed[0][0] if consumed else self.n_lines
            line_problems = [p for _, problems in consumed for p in problems]
            if line_problems:
                yield Record(start, None, line_problems)
                if header is None:
                    break
                continue
            if cells is None:
                if "field larger than field limit" in str(error):
                    problem = _problem("too_long", start, f"a field is longer than the CSV limit ({error})")
                else:
                    problem = _problem("malformed_record", start, f"CSV error: {error} (an unclosed or stray quote?)")
                yield Record(start, None, [problem])
                if header is None:
                    break
                continue
            if all(not c.strip() for c in cells):
                continue
            excerpt = delimiter.join(cells)
            if header is None:
                header, problems = self._parser.header(start, cells, excerpt)
                if problems:
                    yield Record(start, None, problems)
                if header is None:
                    break
                continue
            yield self._parser.row(start, cells, header, excerpt, name)
        for _ in lines:  # after a bad header: count the remaining lines only
            pass


def iter_records(
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    filename: str | None = None,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> RecordStream:
    """Stream a corpus as :class:`Record` objects (one per non-blank line or CSV record).

    ``fmt`` defaults to :func:`detect_format`. ``src_lang``/``tgt_lang`` fill in languages the records
    leave out; they must be known codes (:class:`ValueError` otherwise). Per-record checks only:
    duplicates, token budgets and corpus-level rules are :func:`validate_corpus`'s job.
    """
    path = Path(path)
    fmt = fmt or detect_format(path, filename)
    src = languages.normalize(src_lang) if src_lang else None
    tgt = languages.normalize(tgt_lang) if tgt_lang else None
    return RecordStream(path, fmt, src, tgt, max_line_bytes)


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


class _Collector:
    """Stores problems up to a cap while counting all of them; the first error is always stored."""

    def __init__(self, cap: int):
        self.cap = cap
        self.items: list[Problem] = []
        self.n_errors = 0
        self.n_warnings = 0
        self.truncated = False

    def add(self, problem: Problem, *, always: bool = False) -> None:
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


#: Pairs (and problems) held back at most while the duplicates among the pairs are looked up together.
_DEDUP_BATCH = 4096
#: Pairs a merge of two runs of :class:`_Duplicates` may always reach (beyond that, an eighth of all pairs).
_MERGE_AT_ONCE = 1 << 17


def _pair_digest(pair: Pair) -> int:
    """64 bits identifying a pair's source, target and languages (not its line), for :class:`_Duplicates`.

    Python's ``hash`` of the canonical JSON: SipHash keyed with the interpreter's random secret, so
    colliding pairs cannot be crafted (unless PYTHONHASHSEED is pinned) and costs a fraction of hashlib's
    per-call overhead. Two distinct pairs of an n-pair corpus collide by chance with probability about
    n^2 / 2^65 (3e-8 for a million pairs); the later one would then be reported as a duplicate.
    """
    return hash(_canonical_json(pair))


class _Duplicates:
    """Tells which pairs repeat an earlier one, in memory that grows by about 12 bytes a distinct pair.

    A dict of every pair's hex digest took ~190 bytes a pair (+190 MB for a million lines). Here each
    distinct pair leaves its 8-byte :func:`_pair_digest` and its line in sorted numpy arrays ("runs"), and
    pairs are looked up a batch at a time (:meth:`first_lines`). A new run is merged into the one before
    it while that one is at most twice as long, unless the merged run would exceed an eighth of all pairs
    seen (and :data:`_MERGE_AT_ONCE`): a merge holds both copies, so this bounds the transient memory,
    while the runs a batch searches stay few (14 at a million pairs, ~60 at a hundred million).
    """

    def __init__(self) -> None:
        import numpy  # only when validating: reading records needs nothing beyond the standard library

        self._np = numpy
        self._runs: list[tuple[Any, Any]] = []  # (sorted digests, their lines); lengths decreasing
        self._total = 0

    def first_lines(self, digests: array, lines: list[int]) -> list[int]:
        """For each pair of a batch (its digests and its lines, in file order): the line of the first pair
        it repeats, or 0 when it is the first of its kind. Later batches see the batch's pairs."""
        np = self._np
        digest = np.array(digests, dtype=np.int64)  # a copy: the caller's array is reused
        line = np.array(lines, dtype=np.uint32 if max(lines) <= 0xFFFF_FFFF else np.uint64)
        order = np.argsort(digest, kind="stable")  # equal digests stay in file order
        digest, line = digest[order], line[order]
        first = line[np.searchsorted(digest, digest, side="left")]  # the earliest line in this batch
        for run_digest, run_line in self._runs:  # a hit in an earlier batch is earlier still
            at = np.minimum(np.searchsorted(run_digest, digest), len(run_digest) - 1)
            first = np.where(run_digest[at] == digest, run_line[at], first)
        new = first == line
        self._add_run(digest[new], line[new])
        found = np.empty_like(first)
        found[order] = np.where(new, 0, first)
        return found.tolist()

    def _add_run(self, digest: Any, line: Any) -> None:
        if not len(digest):
            return
        np, runs = self._np, self._runs
        runs.append((digest, line))
        self._total += len(digest)
        limit = max(_MERGE_AT_ONCE, self._total // 8)
        while len(runs) > 1 and len(runs[-2][0]) <= 2 * len(runs[-1][0]) and len(runs[-2][0]) + len(runs[-1][0]) <= limit:
            (d1, l1), (d2, l2) = runs.pop(-2), runs.pop()
            merged = np.concatenate((d1, d2))
            order = np.argsort(merged, kind="stable")  # two sorted runs: a linear merge
            runs.append((merged[order], np.concatenate((l1, l2))[order]))


def _count_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _scan(
    path: str | os.PathLike[str],
    *,
    filename: str | None,
    src_lang: str | None,
    tgt_lang: str | None,
    min_examples: int,
    max_tokens: int | None,
    count_tokens: Callable[[str], int] | None,
    max_problems: int,
    max_line_bytes: int,
    keep_pairs: bool,
) -> tuple[list[Pair], ValidationReport]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such corpus file: {path}")
    found = _Collector(max_problems)
    pairs: list[Pair] = []

    def report(fmt: str, n_lines: int, n_pairs: int, language_pairs: dict[str, int]) -> ValidationReport:
        return ValidationReport(fmt, n_lines, n_pairs, found.items, language_pairs, found.truncated, found.n_errors, found.n_warnings)

    caller: dict[str, str | None] = {}
    for value, where in ((src_lang, "src_lang"), (tgt_lang, "tgt_lang")):
        try:
            caller[where] = languages.normalize(value) if value else None
        except ValueError:
            found.add(_problem("unknown_language", None, f"{where}: unknown language code {_quote(value)}", field=where), always=True)
    if caller.get("src_lang") and caller.get("src_lang") == caller.get("tgt_lang"):
        found.add(_problem("same_language", None, f"src_lang and tgt_lang are both {caller['src_lang']}", field="tgt_lang"), always=True)
    try:
        fmt = detect_format(path, filename)
    except UnknownFormatError as exc:
        found.add(_problem("unknown_format", None, str(exc)), always=True)
        found.add(_problem("too_few_examples", None, f"no valid pairs; at least {min_examples} are needed"), always=True)
        return [], report("unknown", _count_lines(path), 0, {})
    if found.n_errors:
        return [], report(fmt, _count_lines(path), 0, {})

    measure = count_tokens or approx_token_count
    stream = RecordStream(path, fmt, caller.get("src_lang"), caller.get("tgt_lang"), max_line_bytes)
    duplicates = _Duplicates()
    # Pairs are held back until a batch of them is checked for duplicates at once; the problems found
    # meanwhile are held too, each with the number of held pairs before it, so that the report (order,
    # cap) is exactly what checking each pair on arrival gives.
    held_pairs: list[Pair] = []
    held_digests = array("q")
    held_problems: list[tuple[int, Problem]] = []
    per_language: Counter[str] = Counter()
    n_pairs = 0

    def take_held() -> None:
        nonlocal n_pairs
        firsts = duplicates.first_lines(held_digests, [p.line for p in held_pairs]) if held_pairs else []
        if any(firsts):
            kept: list[Pair] = []
            problems = iter(held_problems)
            waiting = next(problems, None)
            for index, (pair, first) in enumerate(zip(held_pairs, firsts)):
                while waiting is not None and waiting[0] <= index:
                    found.add(waiting[1])
                    waiting = next(problems, None)
                if first:
                    found.add(_problem("duplicate", pair.line, f"duplicate of line {first}", pair.source, severity="warning"))
                else:
                    kept.append(pair)
            for _, problem in ([waiting] if waiting is not None else []) + list(problems):
                found.add(problem)
        else:
            kept = held_pairs
            for _, problem in held_problems:
                found.add(problem)
        per_language.update([f"{p.src_lang}-{p.tgt_lang}" for p in kept])
        n_pairs += len(kept)
        if keep_pairs:
            pairs.extend(kept)
        held_pairs.clear()
        del held_digests[:]
        held_problems.clear()

    for record in stream:
        for problem in record.problems:
            held_problems.append((len(held_pairs), problem))
        pair = record.pair
        if pair is not None:
            # UTF-8 has at most 4 bytes a character, so short pairs cannot exceed the approximate budget.
            if max_tokens is not None and (count_tokens or 4 * (len(pair.source) + len(pair.target)) + 4 > 3 * max_tokens):
                n_source, n_target = measure(pair.source), measure(pair.target)
                if n_source + n_target > max_tokens:
                    problem = _problem(
                        "too_long",
                        pair.line,
                        f"pair is about {n_source + n_target} tokens (source {n_source} + target {n_target}), over the limit of {max_tokens}",
                        pair.source,
                        field="source" if n_source >= n_target else "target",
                    )
                    held_problems.append((len(held_pairs), problem))
                    pair = None
            if pair is not None:
                held_digests.append(_pair_digest(pair))
                held_pairs.append(pair)
        if len(held_pairs) >= _DEDUP_BATCH or len(held_problems) >= _DEDUP_BATCH:
            take_held()
    take_held()

    if len(per_language) > 1:
        listed = ", ".join(f"{k} ({v})" for k, v in per_language.most_common())
        found.add(
            _problem("mixed_language_pairs", None, f"{len(per_language)} language pairs in one file: {listed}", severity="warning"),
            always=True,
        )
    if n_pairs < min_examples:
        found.add(
            _problem("too_few_examples", None, f"only {n_pairs} valid pair{'s' * (n_pairs != 1)}; at least {min_examples} are needed"),
            always=True,
        )
    return pairs, report(fmt, stream.n_lines, n_pairs, dict(per_language))


def validate_corpus(
    path: str | os.PathLike[str],
    *,
    filename: str | None = None,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    min_examples: int = 8,
    max_tokens: int | None = 1024,
    count_tokens: Callable[[str], int] | None = None,
    max_problems: int = 1000,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> ValidationReport:
    """Check a corpus file and say what is wrong with it, line by line; never raises on bad data.

    ``filename`` is the name the file had when uploaded (its extension picks the format).
    ``src_lang``/``tgt_lang`` fill in languages records leave out. A pair whose source plus target
    exceed ``max_tokens`` (``None``: no limit) is ``too_long``; tokens are counted with
    ``count_tokens``, else :func:`approx_token_count`. Fewer than ``min_examples`` valid, distinct
    pairs is ``too_few_examples``. Raises only :class:`FileNotFoundError` (and OS errors reading it).
    """
    _, report = _scan(
        path,
        filename=filename,
        src_lang=src_lang,
        tgt_lang=tgt_lang,
        min_examples=min_examples,
        max_tokens=max_tokens,
        count_tokens=count_tokens,
        max_problems=max_problems,
        max_line_bytes=max_line_bytes,
        keep_pairs=False,
    )
    return report


def load_corpus(
    path: str | os.PathLike[str],
    *,
    filename: str | None = None,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    min_examples: int = 8,
    max_tokens: int | None = 1024,
    count_tokens: Callable[[str], int] | None = None,
    max_problems: int = 1000,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> tuple[list[Pair], ValidationReport]:
    """Validate and read in one pass: the valid, de-duplicated pairs in file order, and the report.

    Lenient: lines with errors are left out and the caller decides what the report means.
    """
    return _scan(
        path,
        filename=filename,
        src_lang=src_lang,
        tgt_lang=tgt_lang,
        min_examples=min_examples,
        max_tokens=max_tokens,
        count_tokens=count_tokens,
        max_problems=max_problems,
        max_line_bytes=max_line_bytes,
        keep_pairs=True,
    )


def read_pairs(
    path: str | os.PathLike[str],
    *,
    filename: str | None = None,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    min_examples: int = 1,
    max_tokens: int | None = None,
    count_tokens: Callable[[str], int] | None = None,
) -> list[Pair]:
    """The valid, de-duplicated pairs of a corpus, in file order; strict.

    Raises :class:`CorpusError` (carrying the report) when the file has any error: a training run
    should use exactly what validation accepted, not silently less. Warnings (duplicates, a BOM,
    mixed language pairs, ...) do not raise. No token limit unless ``max_tokens`` is given.
    """
    pairs, report = load_corpus(
        path,
        filename=filename,
        src_lang=src_lang,
        tgt_lang=tgt_lang,
        min_examples=min_examples,
        max_tokens=max_tokens,
        count_tokens=count_tokens,
    )
    if not report.ok:
        raise CorpusError(report)
    return pairs


def write_jsonl(pairs: Iterable[Pair], path: str | os.PathLike[str]) -> Path:
    """Write pairs as ``jsonl_pairs`` lines, atomically (temp file in the same folder, then os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            for pair in pairs:
                fh.write(json.dumps(pair.to_dict(), ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the file is data, not a secret
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
