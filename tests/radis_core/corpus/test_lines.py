"""Physical lines: a BOM, CRLF, a missing last newline, bytes that are not UTF-8, NUL bytes, huge lines."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from radis_core.corpus import CorpusLimits, validate_corpus
from tests.radis_core.corpus.helpers import codes_at, jl, write


def test_bom_crlf_and_last_line_without_newline(tmp_path: Path) -> None:
    body = "\r\n".join(json.dumps({"source": f"S{i}", "target": f"T{i}", "src_lang": "de", "tgt_lang": "en"}) for i in range(8))
    report = validate_corpus(write(tmp_path, "c.jsonl", b"\xef\xbb\xbf" + body.encode()))
    assert report.ok and report.n_pairs == 8 and report.n_lines == 8
    assert codes_at(report) == [("bom", 1)] and report.problems[0].severity == "warning"
    csv_report = validate_corpus(
        write(tmp_path, "c.csv", b"\xef\xbb\xbfsource,target\r\nHallo,Hello\r\n"),
        src_lang="de",
        tgt_lang="en",
        limits=CorpusLimits(min_examples=1),
    )
    assert csv_report.ok and csv_report.n_pairs == 1
    utf16 = validate_corpus(
        write(tmp_path, "u.jsonl", "\ufeff".encode("utf-16-le") + jl(source="a", target="b").encode("utf-16-le"))
    )
    assert codes_at(utf16)[0] == ("not_utf8", 1) and "UTF-16" in utf16.problems[0].message


def test_nul_bytes_and_invalid_utf8_mid_file_do_not_stop_reading(tmp_path: Path) -> None:
    good = [jl(source=f"Satz {i}", target=f"Sentence {i}", src_lang="de", tgt_lang="en").encode() for i in range(10)]
    good[3] = b'{"source": "Gr\xfc\xdfe", "target": "Greetings", "src_lang": "de", "tgt_lang": "en"}\n'
    good[6] = b'{"source": "a\x00b", "target": "c", "src_lang": "de", "tgt_lang": "en"}\n'
    report = validate_corpus(write(tmp_path, "c.jsonl", b"".join(good)))
    assert codes_at(report) == [("not_utf8", 4), ("nul_byte", 7)]
    assert report.n_pairs == 8 and report.n_lines == 10
    assert "0xfc" in report.problems[0].message and "\x00" not in report.problems[1].excerpt
    tsv = write(tmp_path, "c.tsv", b"de\ten\nHund\tdog\nGr\xfc\xdfe\tgreetings\nKatze\tcat\n")
    assert codes_at(validate_corpus(tsv, limits=CorpusLimits(min_examples=2))) == [("not_utf8", 3)]


def test_a_huge_line_is_skipped_without_being_held_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(jl(source="a", target="b", src_lang="de", tgt_lang="en"))
        fh.write('{"source": "' + "x" * (16 << 20) + '", "target": "y"}\n')
        fh.write(jl(source="c", target="d", src_lang="de", tgt_lang="en"))
    tracemalloc.start()
    try:
        report = validate_corpus(path, limits=CorpusLimits(min_examples=1))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert codes_at(report) == [("too_long", 2)] and report.n_pairs == 2 and report.n_lines == 3
    assert peak < 4 << 20, f"peak {peak / 2**20:.1f} MiB while skipping a 16 MiB line"
