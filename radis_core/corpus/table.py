"""CSV and TSV records: the header row that names the columns, then one row per pair.

Reading the rows themselves (RFC 4180 quoting for CSV, plain tab splitting for TSV) is
:mod:`radis_core.corpus.reading`'s job; this module interprets the cells.
"""

from __future__ import annotations

from dataclasses import dataclass

from radis_core import languages
from radis_core.corpus.fields import RecordChecker
from radis_core.corpus.limits import CorpusLimits
from radis_core.corpus.records import Record
from radis_core.corpus.report import Problem

_KNOWN_COLUMNS = ("source", "target", "src_lang", "tgt_lang")


@dataclass
class TableHeader:
    """Where the columns are: ``index`` maps source/target/src_lang/tgt_lang to a column.

    For a language-code header (``de,en``) ``src``/``tgt`` are the header's languages and ``names`` the
    header cells, which then name the fields in messages.
    """

    index: dict[str, int]
    n_columns: int
    src: str | None
    tgt: str | None
    names: tuple[str, str] = ("source", "target")


class TableParser:
    """Interprets the header and rows of one CSV or TSV file, for the caller's languages."""

    def __init__(self, src_lang: str | None, tgt_lang: str | None, limits: CorpusLimits):
        self.src_lang = src_lang
        self.tgt_lang = tgt_lang
        self.limits = limits

    def header(self, number: int, cells: list[str], excerpt: str) -> tuple[TableHeader | None, list[Problem]]:
        """The header of row ``number`` (None when unusable) and its problems (``ignored_columns`` may come with a header)."""
        rec = RecordChecker(number, excerpt, self.limits)
        names = [c.strip().lower() for c in cells]
        if "source" in names or "target" in names:
            return self._named_header(rec, names)
        nonempty = [n for n in names if n]
        if len(names) == 2 and all(languages.is_known(n) for n in nonempty) and len(nonempty) == 2:
            return self._language_header(rec, names)
        rec.add(
            "bad_header",
            'the first row must name the columns "source" and "target" (optionally "src_lang", "tgt_lang") '
            f'or be two language codes such as "de,en"; got {rec.quote(cells)}',
        )
        return None, rec.problems

    def _named_header(self, rec: RecordChecker, names: list[str]) -> tuple[TableHeader | None, list[Problem]]:
        dupes = sorted({n for n in names if names.count(n) > 1 and n in _KNOWN_COLUMNS})
        missing = [n for n in ("source", "target") if n not in names]
        if dupes or missing:
            what = f"repeats {', '.join(dupes)}" if dupes else f"lacks {', '.join(missing)}"
            rec.add("bad_header", f"header {what}; it must name the columns source and target once each")
            return None, rec.problems
        ignored = [n or "(blank)" for n in names if n not in _KNOWN_COLUMNS]
        if ignored:
            rec.add("ignored_columns", f"columns {', '.join(ignored)} are ignored", severity="warning")
        index = {n: names.index(n) for n in _KNOWN_COLUMNS if n in names}
        return TableHeader(index=index, n_columns=len(names), src=None, tgt=None), rec.problems

    def _language_header(self, rec: RecordChecker, names: list[str]) -> tuple[TableHeader | None, list[Problem]]:
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
        # The caller may name one side; the header's other language is then the other side. Neither
        # named: the header's order (first column = source).
        if src is None:
            src = codes[0] if tgt != codes[0] else codes[1]
        if tgt is None:
            tgt = codes[1] if src != codes[1] else codes[0]
        index = {"source": codes.index(src), "target": codes.index(tgt)}
        names_used = (names[index["source"]], names[index["target"]])
        return TableHeader(index=index, n_columns=2, src=src, tgt=tgt, names=names_used), rec.problems

    def row(self, number: int, cells: list[str], header: TableHeader, excerpt: str, delimiter_name: str) -> Record:
        """The record of one data row; ``delimiter_name`` (tab, comma, semicolon) appears in a column-count error."""
        rec = RecordChecker(number, excerpt, self.limits)
        if len(cells) > header.n_columns:
            rec.add(
                "malformed_record",
                f"{len(cells)} columns but the header has {header.n_columns} (a {delimiter_name} inside a text?)",
            )
            return rec.rejected()
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
        src: str | None
        tgt: str | None
        if header.src is not None:
            src, tgt = header.src, header.tgt
        else:
            src = rec.language([(cell("src_lang")[0], "src_lang"), (self.src_lang, "src_lang")], "src_lang")
            tgt = rec.language([(cell("tgt_lang")[0], "tgt_lang"), (self.tgt_lang, "tgt_lang")], "tgt_lang")
        return rec.finish(source, target, src, tgt)
