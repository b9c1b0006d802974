"""iter_records: a file as a stream of records, blank lines skipped but counted."""

from __future__ import annotations

from pathlib import Path

from radis_core.corpus import CorpusLimits, iter_records, validate_corpus
from tests.radis_core.corpus.helpers import jl, write


def test_iter_records_streams_pairs_and_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", jl(source="a", target="b") + "\n" + "{broken\n")
    stream = iter_records(path, src_lang="de", tgt_lang="en")
    records = list(stream)
    assert [(r.line, r.pair is not None, [p.code for p in r.problems]) for r in records] == [
        (1, True, []),
        (3, False, ["not_json"]),
    ]
    assert stream.n_lines == 3 and stream.format == "jsonl_pairs"


def test_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", "\n   \n" + jl(source="a", target="b", src_lang="de", tgt_lang="en") + "\r\n\n")
    report = validate_corpus(path, limits=CorpusLimits(min_examples=1))
    assert report.ok and report.n_lines == 5 and report.n_pairs == 1 and report.problems == []
