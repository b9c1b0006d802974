"""CSV and TSV: headers (named columns or language codes), rows, quoting and line numbers."""

from __future__ import annotations

from pathlib import Path

from radis_core.corpus import CorpusLimits, load_corpus, read_pairs, validate_corpus
from tests.radis_core.corpus.helpers import codes_at, write


def test_tsv_named_header_with_language_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "c.tsv", "source\ttarget\tsrc_lang\ttgt_lang\nHallo\tHello\tde\ten\nBonjour\tHello\tfr\t\n")
    pairs, report = load_corpus(path, tgt_lang="en", limits=CorpusLimits(min_examples=1))
    assert [(p.source, p.src_lang, p.tgt_lang, p.line) for p in pairs] == [("Hallo", "de", "en", 2), ("Bonjour", "fr", "en", 3)]
    assert report.format == "tsv" and report.n_lines == 3


def test_tsv_language_code_header(tmp_path: Path) -> None:
    path = write(tmp_path, "c.tsv", "de\ten\nHund\tdog\nKatze\tcat\n")
    assert [(p.source, p.target, p.src_lang) for p in read_pairs(path)] == [("Hund", "dog", "de"), ("Katze", "cat", "de")]
    assert [(p.source, p.target, p.src_lang) for p in read_pairs(path, src_lang="en")] == [
        ("dog", "Hund", "en"),
        ("cat", "Katze", "en"),
    ]
    report = validate_corpus(path, src_lang="fr", limits=CorpusLimits(min_examples=0))
    assert codes_at(report) == [("bad_header", 1)]


def test_language_code_header_with_the_target_named(tmp_path: Path) -> None:
    # The caller names one side; the header's other language is the other side.
    path = write(tmp_path, "c.tsv", "de\ten\nHund\tdog\n")
    assert [(p.source, p.src_lang, p.tgt_lang) for p in read_pairs(path, tgt_lang="de")] == [("dog", "en", "de")]
    assert [(p.source, p.src_lang, p.tgt_lang) for p in read_pairs(path, tgt_lang="en")] == [("Hund", "de", "en")]


def test_csv_quoted_multiline_fields_keep_line_numbers(tmp_path: Path) -> None:
    content = 'source,target,note\n"Hallo\nWelt","Hello\nworld",x\n"Er sagte ""ja""",He said "yes",y\n\nfoo\n'
    path = write(tmp_path, "c.csv", content)
    pairs, report = load_corpus(path, src_lang="de", tgt_lang="en", limits=CorpusLimits(min_examples=1))
    assert [(p.source, p.target, p.line) for p in pairs] == [
        ("Hallo\nWelt", "Hello\nworld", 2),
        ('Er sagte "ja"', 'He said "yes"', 5),
    ]
    assert codes_at(report) == [("ignored_columns", 1), ("missing_field", 7)]
    assert report.problems[1].field == "target" and report.n_lines == 7


def test_csv_semicolon_delimiter_and_quoting_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", 'de;en\nHund;dog\nKatze;cat;extra\n"Maus"x;mouse\n')
    pairs, report = load_corpus(path, limits=CorpusLimits(min_examples=1))
    assert [(p.source, p.target) for p in pairs] == [("Hund", "dog")]
    assert codes_at(report) == [("malformed_record", 3), ("malformed_record", 4)]
    # The column-count error says what was found and the likely cause, naming the delimiter.
    assert report.problems[0].message == "line 3: 3 columns but the header has 2 (a semicolon inside a text?)"
