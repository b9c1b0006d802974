"""CorpusLimits: one object holds every limit, each limit passed in is enforced, bad limits are refused."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import radis_core.corpus.limits as limits_module
from radis_core.corpus import (
    DEFAULT_LIMITS,
    READ_LIMITS,
    CorpusError,
    CorpusLimits,
    detect_format,
    iter_records,
    read_pairs,
    validate_corpus,
)
from tests.radis_core.corpus.helpers import codes_at, jl, pairs_file, write


def test_defaults_are_the_service_limits_and_frozen() -> None:
    assert dataclasses.asdict(CorpusLimits()) == {
        "max_line_bytes": 1 << 20,
        "max_tokens": 1024,
        "min_examples": 8,
        "max_problems": 1000,
        "max_excerpt_chars": 80,
        "max_quoted_chars": 40,
        "sniff_lines": 20,
    }
    assert CorpusLimits() == DEFAULT_LIMITS
    assert READ_LIMITS.min_examples == 1 and READ_LIMITS.max_tokens is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_LIMITS.max_tokens = 5  # type: ignore[misc]  # the point: assignment must fail


def test_every_field_is_documented() -> None:
    source = Path(limits_module.__file__).read_text(encoding="utf-8")
    for field in dataclasses.fields(CorpusLimits):
        # A field's docstring is the string literal right after its declaration.
        after = source.split(f"    {field.name}: ", 1)[1].split("\n", 1)[1]
        assert after.lstrip().startswith('"""'), f"CorpusLimits.{field.name} has no docstring"


@pytest.mark.parametrize(
    "bad",
    [
        {"max_line_bytes": 0},
        {"max_tokens": 0},
        {"min_examples": -1},
        {"max_problems": -1},
        {"max_excerpt_chars": 0},
        {"max_quoted_chars": 0},
        {"sniff_lines": 0},
    ],
)
def test_nonsense_limits_are_refused_naming_the_field(bad: dict[str, int]) -> None:
    (name,) = bad
    with pytest.raises(ValueError, match=f"CorpusLimits.{name} "):
        CorpusLimits(**bad)


def test_a_token_limit_passed_in_is_enforced_and_names_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.jsonl",
        jl(source="kurz", target="short", src_lang="de", tgt_lang="en")
        + jl(source="ein etwas längerer Satz hier", target="a somewhat longer sentence here", src_lang="de", tgt_lang="en"),
    )
    assert validate_corpus(path, limits=CorpusLimits(min_examples=1)).ok  # the default budget fits both
    report = validate_corpus(path, limits=CorpusLimits(min_examples=1, max_tokens=10))
    assert codes_at(report) == [("too_long", 2)]
    assert report.problems[0].message.startswith("line 2: pair is about ") and report.problems[0].message.endswith(
        "over the limit of 10"
    )


def test_a_line_byte_limit_passed_in_is_enforced_by_every_reader(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.jsonl",
        jl(source="a", target="b", src_lang="de", tgt_lang="en") + jl(source="x" * 100, target="y", src_lang="de", tgt_lang="en"),
    )
    limits = CorpusLimits(min_examples=1, max_line_bytes=80)
    problems = [p for record in iter_records(path, limits=limits) for p in record.problems]
    assert [(p.code, p.line, p.message) for p in problems] == [("too_long", 2, "line 2: line is longer than 80 bytes; skipped")]
    with pytest.raises(CorpusError, match="line 2: line is longer than 80 bytes"):
        read_pairs(path, limits=limits)


def test_min_examples_and_max_problems_passed_in(tmp_path: Path) -> None:
    path = pairs_file(tmp_path, 3)
    assert validate_corpus(path, limits=CorpusLimits(min_examples=3)).ok
    report = validate_corpus(path, limits=CorpusLimits(min_examples=4))
    assert [p.message for p in report.problems] == ["only 3 valid pairs; at least 4 are needed"]
    bad = write(tmp_path, "bad.jsonl", "oops\n" * 6)
    capped = validate_corpus(bad, limits=CorpusLimits(min_examples=0, max_problems=2))
    assert capped.truncated and capped.n_errors == 6 and codes_at(capped) == [("not_json", 1), ("not_json", 2)]


def test_excerpt_and_quote_lengths_passed_in(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", "not json " * 20 + "\n" + jl(source="a", target="b", src_lang="x" * 50, tgt_lang="en"))
    report = validate_corpus(path, limits=CorpusLimits(min_examples=0, max_excerpt_chars=12, max_quoted_chars=8))
    assert [p.excerpt for p in report.problems][0] == "not json no\u2026"
    assert report.problems[1].message == 'line 2: field "src_lang": unknown language code "xxxxxx\u2026'
    assert all(len(p.excerpt) <= 12 for p in report.problems)


def test_sniff_lines_passed_in(tmp_path: Path) -> None:
    chat = json.dumps({"messages": [{"role": "user", "content": "Hallo"}, {"role": "assistant", "content": "Hello"}]})
    path = write(tmp_path, "c.jsonl", "oops\n" * 3 + chat + "\n")
    assert detect_format(path) == "jsonl_chat"
    # Looking at fewer lines than the first JSON object: the default JSON Lines format.
    assert detect_format(path, limits=CorpusLimits(sniff_lines=3)) == "jsonl_pairs"
