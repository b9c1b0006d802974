"""Which of the accepted formats a corpus file is in (see the package docstring for the formats)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from radis_core.corpus.limits import DEFAULT_LIMITS, CorpusLimits
from radis_core.corpus.lines import UTF8_BOM, UTF16_BOMS, UTF16_MESSAGE, physical_lines
from radis_core.corpus.report import excerpt

#: The formats :func:`detect_format` can return.
FORMATS: tuple[str, ...] = ("jsonl_pairs", "jsonl_translation", "jsonl_chat", "tsv", "csv")

_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".tsv": "tsv", ".tab": "tsv", ".csv": "csv"}


class UnknownFormatError(ValueError):
    """:func:`detect_format` could not tell what a file is."""


def _sniff_texts(path: Path, limits: CorpusLimits) -> Iterator[str]:
    """The first non-blank lines of a file, decoded leniently (a BOM stripped)."""
    with open(path, "rb") as fh:
        seen = 0
        for raw in physical_lines(fh, limits.max_line_bytes):
            data = raw.data[3:] if raw.number == 1 and raw.data.startswith(UTF8_BOM) else raw.data
            if raw.too_long or not data.strip():
                continue
            yield data.decode("utf-8", errors="replace")
            seen += 1
            if seen >= limits.sniff_lines:
                return


def _starts_with_utf16_bom(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) in UTF16_BOMS


def detect_format(path: str | os.PathLike[str], filename: str | None = None, *, limits: CorpusLimits = DEFAULT_LIMITS) -> str:
    """Tell the format of a corpus file: one of :data:`FORMATS`.

    The extension (of ``filename`` when given, e.g. the name of an upload stored under an id, else of
    ``path``) decides first: ``.csv``, ``.tsv``/``.tab``, or ``.jsonl``/``.ndjson``/``.json``. JSON Lines
    files are told apart by the first JSON object among the first ``limits.sniff_lines`` (20) non-blank
    lines (``messages`` → chat, ``translation`` → HF translation, else pairs). Without a known extension
    the first non-blank line decides: ``{`` or ``[`` → JSON Lines, a tab → TSV, a comma or semicolon →
    CSV. Raises :class:`UnknownFormatError` when nothing fits, :class:`FileNotFoundError` for a missing
    file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such corpus file: {path}")
    family = _EXTENSIONS.get(Path(filename or path.name).suffix.lower())
    if family in ("tsv", "csv"):
        return family
    if family is None:
        if _starts_with_utf16_bom(path):
            raise UnknownFormatError(UTF16_MESSAGE)
        first = next(_sniff_texts(path, limits), None)
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
                f"{excerpt(first, limits)!r}: use .jsonl, .csv or .tsv"
            )
    for text in _sniff_texts(path, limits):
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
