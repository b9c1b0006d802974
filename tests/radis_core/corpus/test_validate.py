"""validate_corpus, load_corpus and read_pairs: file-level problems, token and line limits, big files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from radis_core.corpus import CorpusError, CorpusLimits, load_corpus, read_pairs, validate_corpus
from tests.radis_core.corpus.helpers import codes_at, jl, pairs_file, write


def test_file_level_problem_codes(tmp_path: Path) -> None:
    few = validate_corpus(pairs_file(tmp_path, 3))
    assert codes_at(few) == [("too_few_examples", None)] and not few.ok
    assert few.problems[0].message == "only 3 valid pairs; at least 8 are needed"
    mixed = write(
        tmp_path,
        "m.jsonl",
        jl(source="a", target="b", src_lang="de", tgt_lang="en") + jl(source="c", target="d", src_lang="fr", tgt_lang="en"),
    )
    report = validate_corpus(mixed, limits=CorpusLimits(min_examples=2))
    assert codes_at(report) == [("mixed_language_pairs", None)] and report.ok
    assert report.language_pairs == {"de-en": 1, "fr-en": 1}
    unknown = validate_corpus(write(tmp_path, "notes.txt", "hello\n"))
    assert unknown.format == "unknown" and ("unknown_format", None) in codes_at(unknown) and unknown.n_lines == 1
    bad_header = validate_corpus(write(tmp_path, "h.csv", "german,english\nHund,dog\nKatze,cat\n"))
    assert codes_at(bad_header)[0] == ("bad_header", 1) and bad_header.n_lines == 3
    same = validate_corpus(pairs_file(tmp_path, 9), src_lang="de", tgt_lang="deu")
    assert codes_at(same) == [("same_language", None)]
    unknown_caller = validate_corpus(pairs_file(tmp_path, 9), src_lang="zz")
    assert codes_at(unknown_caller) == [("unknown_language", None)] and unknown_caller.problems[0].field == "src_lang"


def test_too_long_by_tokens_and_by_line_bytes(tmp_path: Path) -> None:
    long_text = "wort " * 300
    path = write(
        tmp_path,
        "c.jsonl",
        jl(source="kurz", target="short", src_lang="de", tgt_lang="en")
        + jl(source=long_text, target="x", src_lang="de", tgt_lang="en"),
    )
    report = validate_corpus(path, limits=CorpusLimits(min_examples=1, max_tokens=100))
    assert codes_at(report) == [("too_long", 2)] and "over the limit of 100" in report.problems[0].message
    # A caller's tokenizer replaces the byte estimate: 301 words still fit 400 "tokens".
    assert validate_corpus(path, limits=CorpusLimits(min_examples=1, max_tokens=400), count_tokens=lambda s: len(s.split())).ok
    assert validate_corpus(path, limits=CorpusLimits(min_examples=1, max_tokens=None)).ok
    report = validate_corpus(path, limits=CorpusLimits(min_examples=1, max_line_bytes=200))
    assert codes_at(report) == [("too_long", 2)] and "longer than 200 bytes" in report.problems[0].message


def test_read_pairs_is_strict_and_load_corpus_lenient(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", jl(source="a", target="b") + jl(source="a", target="b") + jl(source="c", target=""))
    with pytest.raises(CorpusError) as caught:
        read_pairs(path, src_lang="de", tgt_lang="en")
    assert caught.value.report.first_error.line == 3 and "line 3" in str(caught.value)
    pairs, report = load_corpus(path, src_lang="de", tgt_lang="en", limits=CorpusLimits(min_examples=1))
    assert [p.line for p in pairs] == [1] and codes_at(report) == [("duplicate", 2), ("empty_field", 3)]
    with pytest.raises(FileNotFoundError):
        validate_corpus(tmp_path / "nope.jsonl")


def test_streaming_200k_lines(tmp_path: Path) -> None:
    n = 200_000
    path = tmp_path / "big.jsonl"
    row = '{"source": "Satz Nummer %d ist hier.", "target": "Sentence number %d is here.", "src_lang": "de", "tgt_lang": "en"}\n'
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(row % (i, i) for i in range(n - 2))
        fh.write("{oops\n")
        fh.write(row % (5, 5))
    start = time.perf_counter()
    report = validate_corpus(path)
    elapsed = time.perf_counter() - start
    assert report.n_lines == n and report.n_pairs == n - 2
    assert codes_at(report) == [("not_json", n - 1), ("duplicate", n)]
    assert report.problems[1].message == f"line {n}: duplicate of line 6"
    assert elapsed < 20, f"validating {n} lines took {elapsed:.1f}s: something is not linear"
