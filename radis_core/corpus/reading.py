"""Streaming a corpus file as records: lines in, one :class:`Record` per non-blank line or CSV record out.

Reading is streaming: lines are read in binary one at a time, and a line longer than
``limits.max_line_bytes`` is reported (``too_long``) and skipped without being held in memory.
Per-record checks only: duplicates, token budgets and corpus-level rules are validation's job
(:mod:`radis_core.corpus.validate`).
"""

from __future__ import annotations

import csv
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from radis_core import languages
from radis_core.corpus.formats import FORMATS, detect_format
from radis_core.corpus.jsonl import JsonLinesParser
from radis_core.corpus.limits import DEFAULT_LIMITS, CorpusLimits
from radis_core.corpus.lines import UTF8_BOM, UTF16_BOMS, UTF16_MESSAGE, RawLine, decode_line, physical_lines
from radis_core.corpus.records import Record
from radis_core.corpus.report import Problem, make_problem
from radis_core.corpus.table import TableHeader, TableParser


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
        limits: CorpusLimits = DEFAULT_LIMITS,
    ):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
        self.path = path
        self.format = fmt
        self.limits = limits
        self.n_lines = 0
        self._json = JsonLinesParser(fmt, src_lang, tgt_lang, limits)
        self._table = TableParser(src_lang, tgt_lang, limits)

    def _lines(self, fh: IO[bytes]) -> Iterator[RawLine]:
        for raw in physical_lines(fh, self.limits.max_line_bytes):
            self.n_lines = raw.number
            yield raw

    def __iter__(self) -> Iterator[Record]:
        with open(self.path, "rb") as fh:
            lines = self._lines(fh)
            first = next(lines, None)
            if first is None:
                return
            if first.data.startswith(UTF16_BOMS):
                yield Record(1, None, [make_problem("not_utf8", 1, UTF16_MESSAGE, limits=self.limits)])
                for _ in lines:  # count the lines, nothing more can be read
                    pass
                return
            if first.data.startswith(UTF8_BOM):
                first.data = first.data[len(UTF8_BOM) :]
                bom = make_problem(
                    "bom", 1, "file starts with a UTF-8 byte-order mark (stripped)", limits=self.limits, severity="warning"
                )
                yield Record(1, None, [bom])
            lines = itertools.chain([first], lines)
            if self.format == "csv":
                yield from self._csv(lines)
            elif self.format == "tsv":
                yield from self._tsv(lines)
            else:
                yield from self._jsonl(lines)

    def _jsonl(self, lines: Iterator[RawLine]) -> Iterator[Record]:
        for raw in lines:
            if not raw.too_long and not raw.data.strip():
                continue
            text, problems = decode_line(raw, self.limits)
            if text is None:
                yield Record(raw.number, None, problems)
                continue
            yield self._json.parse(raw.number, text, not raw.has_newline)

    def _tsv(self, lines: Iterator[RawLine]) -> Iterator[Record]:
        header: TableHeader | None = None
        for raw in lines:
            if not raw.too_long and not raw.data.strip():
                continue
            text, problems = decode_line(raw, self.limits)
            if text is None:
                yield Record(raw.number, None, problems)
                if header is None:
                    break  # an unreadable header: no row can be interpreted
                continue
            cells = text.split("\t")
            if header is None:
                header, problems = self._table.header(raw.number, cells, text)
                if problems:
                    yield Record(raw.number, None, problems)
                if header is None:
                    break
                continue
            yield self._table.row(raw.number, cells, header, text, "tab")
        for _ in lines:  # after a bad header: count the remaining lines only
            pass

    def _csv(self, lines: Iterator[RawLine]) -> Iterator[Record]:
        # The delimiter comes from the header line, so peek at it before building the reader.
        peeked: list[RawLine] = []
        for raw in lines:
            peeked.append(raw)
            if raw.too_long or raw.data.strip():
                break
        head = peeked[-1].data if peeked else b""
        delimiter = ";" if b";" in head and b"," not in head else ","
        pending: list[tuple[int, list[Problem]]] = []

        def feed() -> Iterator[str]:
            for raw in itertools.chain(peeked, lines):
                text, problems = decode_line(raw, self.limits)
                pending.append((raw.number, problems))
                # An unreadable line still feeds a line ending, so the csv reader's records keep
                # lining up with physical lines; the record is then reported instead of parsed.
                yield (text if text is not None else "") + "\n"

        reader = csv.reader(feed(), delimiter=delimiter, strict=True)
        header: TableHeader | None = None
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
            # A record is numbered by its first physical line (a quoted field may span several).
            start = consumed[0][0] if consumed else self.n_lines
            line_problems = [p for _, problems in consumed for p in problems]
            if line_problems:
                yield Record(start, None, line_problems)
                if header is None:
                    break
                continue
            if cells is None:
                if "field larger than field limit" in str(error):
                    problem = make_problem(
                        "too_long", start, f"a field is longer than the CSV limit ({error})", limits=self.limits
                    )
                else:
                    problem = make_problem(
                        "malformed_record", start, f"CSV error: {error} (an unclosed or stray quote?)", limits=self.limits
                    )
                yield Record(start, None, [problem])
                if header is None:
                    break
                continue
            if all(not c.strip() for c in cells):
                continue
            excerpt = delimiter.join(cells)
            if header is None:
                header, problems = self._table.header(start, cells, excerpt)
                if problems:
                    yield Record(start, None, problems)
                if header is None:
                    break
                continue
            yield self._table.row(start, cells, header, excerpt, name)
        for _ in lines:  # after a bad header: count the remaining lines only
            pass


def iter_records(
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    filename: str | None = None,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    limits: CorpusLimits = DEFAULT_LIMITS,
) -> RecordStream:
    """Stream a corpus as :class:`Record` objects (one per non-blank line or CSV record).

    ``fmt`` defaults to :func:`~radis_core.corpus.formats.detect_format`. ``src_lang``/``tgt_lang`` fill
    in languages the records leave out; they must be known codes (:class:`ValueError` otherwise).
    Per-record checks only: duplicates, token budgets and corpus-level rules are
    :func:`~radis_core.corpus.validate.validate_corpus`'s job.
    """
    path = Path(path)
    fmt = fmt or detect_format(path, filename, limits=limits)
    src = languages.normalize(src_lang) if src_lang else None
    tgt = languages.normalize(tgt_lang) if tgt_lang else None
    return RecordStream(path, fmt, src, tgt, limits)
