"""Physical lines of a corpus file: read in binary one at a time, bounded, then decoded as UTF-8.

Line numbers are 1-based physical lines; every reader (format detection, records, CSV) counts them
here so that a problem's line is the line an editor shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from radis_core.corpus.limits import CorpusLimits
from radis_core.corpus.report import Problem, make_problem

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
#: The message for a UTF-16 file, shared by format detection and the record reader.
UTF16_MESSAGE = "file is UTF-16 encoded (it starts with a UTF-16 byte-order mark); save it as UTF-8"

# How much of an over-long line is read (and dropped) per call while skipping to its end: the line
# itself is never held, so this bounds the memory a huge line costs.
_DRAIN_CHUNK = 1 << 16


@dataclass(slots=True)
class RawLine:
    """One physical line as bytes."""

    number: int
    data: bytes  # without the line ending; empty when too_long
    too_long: bool
    has_newline: bool


def physical_lines(fh: IO[bytes], max_line_bytes: int) -> Iterator[RawLine]:
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
                rest = fh.readline(_DRAIN_CHUNK)
                if not rest or rest.endswith(b"\n"):
                    has_newline = bool(rest)
                    break
        data = b"" if too_long else chunk.rstrip(b"\n").removesuffix(b"\r")
        if not too_long and len(data) > max_line_bytes:
            too_long, data = True, b""
        yield RawLine(number, data, too_long, has_newline)


def decode_line(raw: RawLine, limits: CorpusLimits) -> tuple[str | None, list[Problem]]:
    """Text of a line, or the problems that make it unreadable (too long, NUL bytes, not UTF-8)."""
    if raw.too_long:
        return None, [
            make_problem("too_long", raw.number, f"line is longer than {limits.max_line_bytes} bytes; skipped", limits=limits)
        ]
    try:
        text = raw.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw.data[exc.start : exc.start + 1].hex()
        shown = raw.data.decode("utf-8", errors="replace")
        return None, [
            make_problem(
                "not_utf8", raw.number, f"not valid UTF-8 (byte 0x{bad} at byte offset {exc.start})", shown, limits=limits
            )
        ]
    if "\x00" in text:
        return None, [
            make_problem("nul_byte", raw.number, f"contains a NUL byte at column {text.index(chr(0)) + 1}", text, limits=limits)
        ]
    return text, []


def count_lines(path: Path) -> int:
    """Physical lines of a file (a last line without a newline counts), for reports that read no records."""
    count, last = 0, b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")
