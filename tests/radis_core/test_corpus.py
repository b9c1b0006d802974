"""Corpus reading and validation: every format, every problem code with its line, and big/odd files."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from radis_core import languages
from radis_core.corpus import (
    PROBLEM_CODES,
    CorpusError,
    Pair,
    Problem,
    UnknownFormatError,
    ValidationReport,
    approx_token_count,
    detect_format,
    iter_records,
    load_corpus,
    read_pairs,
    validate_corpus,
    write_jsonl,
)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def jl(**record) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def pairs_file(tmp_path: Path, n: int, name: str = "c.jsonl") -> Path:
    return write(tmp_path, name, "".join(jl(source=f"Satz {i}", target=f"Sentence {i}", src_lang="de", tgt_lang="en") for i in range(n)))


def codes_at(report: ValidationReport) -> list[tuple[str, int | None]]:
    return [(p.code, p.line) for p in report.problems]


def only(report: ValidationReport, code: str) -> list:
    return [p for p in report.problems if p.code == code]


# ---------------------------------------------------------------------------------------------
# languages
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "canonical"),
    [("de", "de"), ("DEU", "de"), ("ger", "de"), ("de-DE", "de"), ("de_AT", "de"), ("zh-Hans-CN", "zh"),
     ("cmn", "zh"), ("jpn", "ja"), ("pt-BR", "pt"), (" en ", "en"), ("yue", "yue"), ("ceb", "ceb")],
)
def test_normalize_prefers_two_letter_codes(code: str, canonical: str) -> None:
    assert languages.normalize(code) == canonical


def test_language_names_and_unknown_codes() -> None:
    assert languages.name("deu") == "German"
    assert languages.name("zh") == "Chinese"
    assert languages.code_for_name("german") == "de"
    assert languages.code_for_name("Mandarin") == "zh"
    assert languages.is_known("uk") and not languages.is_known("xx")
    assert len(languages.known_codes()) >= 60
    for bad in ("xx", "klingon", "", "d"):
        with pytest.raises(ValueError, match="unknown language code"):
            languages.normalize(bad)
    with pytest.raises(ValueError, match="'Klingon'"):
        languages.code_for_name("Klingon")
    # Every listed 639-1 code has its 639-3 twin mapping to the same canonical code.
    for two, three in [("fr", "fra"), ("ru", "rus"), ("es", "spa"), ("ko", "kor"), ("cs", "ces"), ("uk", "ukr")]:
        assert languages.normalize(three) == two


def test_corpus_modules_do_not_import_torch() -> None:
    code = (
        "import sys, radis_core.corpus, radis_core.languages, radis_core.demo_data;"
        "bad = sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules);"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


# ---------------------------------------------------------------------------------------------
# formats
# ---------------------------------------------------------------------------------------------


def test_jsonl_pairs_with_caller_languages(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", jl(source=" Hallo Welt ", target="Hello world") + jl(source="Ja", target="Yes", src_lang="deu", tgt_lang="en-GB"))
    pairs, report = load_corpus(path, src_lang="de", tgt_lang="en", min_examples=2)
    assert report.ok and report.format == "jsonl_pairs" and report.n_pairs == 2
    assert pairs == [Pair("Hallo Welt", "Hello world", "de", "en", 1), Pair("Ja", "Yes", "de", "en", 2)]
    assert report.language_pairs == {"de-en": 2}


def test_jsonl_translation_key_order_and_caller_direction(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", jl(translation={"de": "Hund", "en": "dog"}) + jl(translation={"en": "cat", "de": "Katze"}))
    assert detect_format(path) == "jsonl_translation"
    pairs, report = load_corpus(path, min_examples=1)
    # Without caller languages the key order decides: first key = source.
    assert [(p.source, p.src_lang, p.target, p.tgt_lang) for p in pairs] == [("Hund", "de", "dog", "en"), ("cat", "en", "Katze", "de")]
    assert only(report, "mixed_language_pairs")[0].severity == "warning"
    pairs, report = load_corpus(path, src_lang="en", tgt_lang="de", min_examples=1)
    assert [(p.source, p.target) for p in pairs] == [("dog", "Hund"), ("cat", "Katze")]
    assert report.ok and report.language_pairs == {"en-de": 2}


def test_jsonl_translation_needs_languages_when_ambiguous(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", jl(translation={"de": "Hund", "en": "dog", "fr": "chien"}) + jl(translation={"de": "Katze", "en": "cat"}))
    report = validate_corpus(path, min_examples=1)
    assert codes_at(report) == [("missing_language", 1)]
    pairs, report = load_corpus(path, src_lang="fr", tgt_lang="en", min_examples=1)
    assert [(p.source, p.target) for p in pairs] == [("chien", "dog")]
    assert codes_at(report) == [("missing_field", 2)] and report.problems[0].field == "translation.fr"


def test_jsonl_chat_strips_instruction_and_reads_languages(tmp_path: Path) -> None:
    lines = [
        {"messages": [{"role": "system", "content": "You translate."},
                      {"role": "user", "content": "Translate the following text from German to English.\n\nGuten Tag"},
                      {"role": "assistant", "content": "Good day"}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "Bonjour"}]},
                      {"role": "assistant", "content": "Hello"}], "src_lang": "fr", "tgt_lang": "en"},
        {"messages": [{"role": "user", "content": "Translate from Chinese (Simplified) into English: 你好"},
                      {"role": "assistant", "content": "Hi"}]},
        {"messages": [{"role": "user", "content": "Buenos días"}, {"role": "assistant", "content": "Good morning"}]},
    ]
    path = write(tmp_path, "chat.jsonl", "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    assert detect_format(path) == "jsonl_chat"
    pairs, report = load_corpus(path, src_lang="es", tgt_lang="en", min_examples=1)
    assert [(p.source, p.target, p.src_lang, p.tgt_lang) for p in pairs] == [
        ("Guten Tag", "Good day", "de", "en"),
        ("Bonjour", "Hello", "fr", "en"),
        ("你好", "Hi", "zh", "en"),
        ("Buenos días", "Good morning", "es", "en"),
    ]
    assert report.ok


def test_jsonl_chat_structure_problems(tmp_path: Path) -> None:
    lines = [
        {"messages": [{"role": "user", "content": "Hallo"}]},
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                      {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]},
        {"messages": "Hallo"},
        {"messages": [{"role": "user", "content": "Translate from Klingon to English:\nQapla'"}, {"role": "assistant", "content": "Success"}]},
        {"messages": [{"content": "x"}, {"role": "assistant", "content": "y"}]},
        {"source": "Hallo", "target": "Hello"},
    ]
    path = write(tmp_path, "chat.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    report = validate_corpus(path, src_lang="de", tgt_lang="en", min_examples=0)
    assert codes_at(report) == [
        ("missing_field", 1),
        ("malformed_record", 2),
        ("wrong_type", 3),
        ("unknown_language", 4),
        ("missing_field", 5),
        ("missing_field", 6),
    ]
    assert report.problems[3].field == "messages[0].content" and "Klingon" in report.problems[3].message
    assert report.problems[4].field == "messages[0].role"
    assert "jsonl_pairs format" in report.problems[5].message


def test_tsv_named_header_with_language_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "c.tsv", "source\ttarget\tsrc_lang\ttgt_lang\nHallo\tHello\tde\ten\nBonjour\tHello\tfr\t\n")
    pairs, report = load_corpus(path, tgt_lang="en", min_examples=1)
    assert [(p.source, p.src_lang, p.tgt_lang, p.line) for p in pairs] == [("Hallo", "de", "en", 2), ("Bonjour", "fr", "en", 3)]
    assert report.format == "tsv" and report.n_lines == 3


def test_tsv_language_code_header(tmp_path: Path) -> None:
    path = write(tmp_path, "c.tsv", "de\ten\nHund\tdog\nKatze\tcat\n")
    assert [(p.source, p.target, p.src_lang) for p in read_pairs(path)] == [("Hund", "dog", "de"), ("Katze", "cat", "de")]
    assert [(p.source, p.target, p.src_lang) for p in read_pairs(path, src_lang="en")] == [("dog", "Hund", "en"), ("cat", "Katze", "en")]
    report = validate_corpus(path, src_lang="fr", min_examples=0)
    assert codes_at(report) == [("bad_header", 1)]


def test_csv_quoted_multiline_fields_keep_line_numbers(tmp_path: Path) -> None:
    content = 'source,target,note\n"Hallo\nWelt","Hello\nworld",x\n"Er sagte ""ja""",He said "yes",y\n\nfoo\n'
    path = write(tmp_path, "c.csv", content)
    pairs, report = load_corpus(path, src_lang="de", tgt_lang="en", min_examples=1)
    assert [(p.source, p.target, p.line) for p in pairs] == [("Hallo\nWelt", "Hello\nworld", 2), ('Er sagte "ja"', 'He said "yes"', 5)]
    assert codes_at(report) == [("ignored_columns", 1), ("missing_field", 7)]
    assert report.problems[1].field == "target" and report.n_lines == 7


def test_csv_semicolon_delimiter_and_quoting_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", 'de;en\nHund;dog\nKatze;cat;extra\n"Maus"x;mouse\n')
    pairs, report = load_corpus(path, min_examples=1)
    assert [(p.source, p.target) for p in pairs] == [("Hund", "dog")]
    assert codes_at(report) == [("malformed_record", 3), ("malformed_record", 4)]


def test_detect_format_by_extension_then_content(tmp_path: Path) -> None:
    body = jl(source="a", target="b")
    assert detect_format(write(tmp_path, "x.jsonl", body)) == "jsonl_pairs"
    assert detect_format(write(tmp_path, "upload-123", "source\ttarget\na\tb\n")) == "tsv"
    assert detect_format(write(tmp_path, "upload-456", "source,target\na,b\n")) == "csv"
    assert detect_format(write(tmp_path, "upload-789", "\n" + body)) == "jsonl_pairs"
    # The upload's own name wins over the stored path's.
    assert detect_format(write(tmp_path, "file-abc", "a,b\tc\n"), filename="corpus.CSV") == "csv"
    # JSON Lines kind: the first record that parses decides.
    assert detect_format(write(tmp_path, "y.jsonl", "oops\n" + jl(translation={"de": "a", "en": "b"}))) == "jsonl_translation"
    with pytest.raises(UnknownFormatError, match="cannot tell the format"):
        detect_format(write(tmp_path, "notes.txt", "just some words\n"))
    with pytest.raises(FileNotFoundError):
        detect_format(tmp_path / "missing.jsonl")


def test_iter_records_streams_pairs_and_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", jl(source="a", target="b") + "\n" + "{broken\n")
    stream = iter_records(path, src_lang="de", tgt_lang="en")
    records = list(stream)
    assert [(r.line, r.pair is not None, [p.code for p in r.problems]) for r in records] == [(1, True, []), (3, False, ["not_json"])]
    assert stream.n_lines == 3 and stream.format == "jsonl_pairs"


# ---------------------------------------------------------------------------------------------
# problem codes, each with its line
# ---------------------------------------------------------------------------------------------


def test_record_level_problem_codes_name_their_line_and_field(tmp_path: Path) -> None:
    lines = [
        jl(source="Hallo", target="Hello", src_lang="de", tgt_lang="en"),  # 1 ok
        "not json at all\n",  # 2
        "[1, 2]\n",  # 3
        jl(target="Hello", src_lang="de", tgt_lang="en"),  # 4
        jl(source="Hallo", target="   ", src_lang="de", tgt_lang="en"),  # 5
        jl(source="Hallo", target=42, src_lang="de", tgt_lang="en"),  # 6
        jl(source="Hallo", target="Hi", src_lang="xx", tgt_lang="en"),  # 7
        jl(source="Hallo", target="Hi", tgt_lang="en"),  # 8
        jl(source="Hallo", target="Hi", src_lang="en", tgt_lang="eng"),  # 9
        jl(source="OK", target="OK", src_lang="de", tgt_lang="en"),  # 10 warning, kept
        jl(source="Hallo", target="Hello", src_lang="deu", tgt_lang="en"),  # 11 duplicate of 1
        jl(source="a\u0000b", target="x", src_lang="de", tgt_lang="en"),  # 12 NUL via JSON escape
        '{"source": "\\ud800", "target": "x", "src_lang": "de", "tgt_lang": "en"}\n',  # 13 lone surrogate
    ]
    report = validate_corpus(write(tmp_path, "c.jsonl", "".join(lines)), min_examples=1)
    assert codes_at(report) == [
        ("not_json", 2), ("not_object", 3), ("missing_field", 4), ("empty_field", 5), ("wrong_type", 6),
        ("unknown_language", 7), ("missing_language", 8), ("same_language", 9), ("source_equals_target", 10),
        ("duplicate", 11), ("nul_byte", 12), ("not_utf8", 13),
    ]
    by_line = {p.line: p for p in report.problems}
    assert by_line[4].message == 'line 4: field "source" is missing' and by_line[4].field == "source"
    assert by_line[5].message == 'line 5: field "target" is empty' and by_line[5].field == "target"
    assert by_line[6].field == "target" and "got number" in by_line[6].message
    assert by_line[7].field == "src_lang" and '"xx"' in by_line[7].message
    assert by_line[8].field == "src_lang"
    assert by_line[10].severity == "warning" and by_line[11].severity == "warning"
    assert by_line[11].message == "line 11: duplicate of line 1"
    assert by_line[12].field == "source" and by_line[13].field == "source"
    assert report.n_pairs == 2 and report.n_errors == 10 and report.n_warnings == 2
    assert all(len(p.excerpt) <= 80 for p in report.problems)
    assert by_line[2].excerpt == "not json at all"


def test_file_level_problem_codes(tmp_path: Path) -> None:
    few = validate_corpus(pairs_file(tmp_path, 3))
    assert codes_at(few) == [("too_few_examples", None)] and not few.ok
    assert few.problems[0].message == "only 3 valid pairs; at least 8 are needed"
    mixed = write(tmp_path, "m.jsonl", jl(source="a", target="b", src_lang="de", tgt_lang="en") + jl(source="c", target="d", src_lang="fr", tgt_lang="en"))
    report = validate_corpus(mixed, min_examples=2)
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
    path = write(tmp_path, "c.jsonl", jl(source="kurz", target="short", src_lang="de", tgt_lang="en") + jl(source=long_text, target="x", src_lang="de", tgt_lang="en"))
    report = validate_corpus(path, min_examples=1, max_tokens=100)
    assert codes_at(report) == [("too_long", 2)] and "over the limit of 100" in report.problems[0].message
    # A caller's tokenizer replaces the byte estimate: 301 words still fit 400 "tokens".
    assert validate_corpus(path, min_examples=1, max_tokens=400, count_tokens=lambda s: len(s.split())).ok
    assert validate_corpus(path, min_examples=1, max_tokens=None).ok
    report = validate_corpus(path, min_examples=1, max_line_bytes=200)
    assert codes_at(report) == [("too_long", 2)] and "longer than 200 bytes" in report.problems[0].message


def test_bom_crlf_and_last_line_without_newline(tmp_path: Path) -> None:
    body = "\r\n".join(json.dumps({"source": f"S{i}", "target": f"T{i}", "src_lang": "de", "tgt_lang": "en"}) for i in range(8))
    report = validate_corpus(write(tmp_path, "c.jsonl", b"\xef\xbb\xbf" + body.encode()))
    assert report.ok and report.n_pairs == 8 and report.n_lines == 8
    assert codes_at(report) == [("bom", 1)] and report.problems[0].severity == "warning"
    csv_report = validate_corpus(write(tmp_path, "c.csv", b"\xef\xbb\xbfsource,target\r\nHallo,Hello\r\n"), src_lang="de", tgt_lang="en", min_examples=1)
    assert csv_report.ok and csv_report.n_pairs == 1
    utf16 = validate_corpus(write(tmp_path, "u.jsonl", "\ufeff".encode("utf-16-le") + jl(source="a", target="b").encode("utf-16-le")))
    assert codes_at(utf16)[0] == ("not_utf8", 1) and "UTF-16" in utf16.problems[0].message


def test_truncated_last_json_line(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", jl(source="a", target="b", src_lang="de", tgt_lang="en") + '{"source": "Hal')
    report = validate_corpus(path, min_examples=1)
    assert codes_at(report) == [("not_json", 2)]
    assert "cut short" in report.problems[0].message


def test_nul_bytes_and_invalid_utf8_mid_file_do_not_stop_reading(tmp_path: Path) -> None:
    good = [jl(source=f"Satz {i}", target=f"Sentence {i}", src_lang="de", tgt_lang="en").encode() for i in range(10)]
    good[3] = b'{"source": "Gr\xfc\xdfe", "target": "Greetings", "src_lang": "de", "tgt_lang": "en"}\n'
    good[6] = b'{"source": "a\x00b", "target": "c", "src_lang": "de", "tgt_lang": "en"}\n'
    report = validate_corpus(write(tmp_path, "c.jsonl", b"".join(good)))
    assert codes_at(report) == [("not_utf8", 4), ("nul_byte", 7)]
    assert report.n_pairs == 8 and report.n_lines == 10
    assert "0xfc" in report.problems[0].message and "\x00" not in report.problems[1].excerpt
    tsv = write(tmp_path, "c.tsv", b"de\ten\nHund\tdog\nGr\xfc\xdfe\tgreetings\nKatze\tcat\n")
    assert codes_at(validate_corpus(tsv, min_examples=2)) == [("not_utf8", 3)]


def test_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", "\n   \n" + jl(source="a", target="b", src_lang="de", tgt_lang="en") + "\r\n\n")
    report = validate_corpus(path, min_examples=1)
    assert report.ok and report.n_lines == 5 and report.n_pairs == 1 and report.problems == []


def test_problem_cap_keeps_counting_and_keeps_first_error(tmp_path: Path) -> None:
    lines = [jl(source="Hallo", target="Hello", src_lang="de", tgt_lang="en")] * 30 + ["oops\n"] * 20
    report = validate_corpus(write(tmp_path, "c.jsonl", "".join(lines)), min_examples=1, max_problems=10)
    assert report.truncated and report.n_warnings == 29 and report.n_errors == 20 and report.n_lines == 50
    assert len(report.problems) == 11  # 10 duplicates, then the first error despite the cap
    assert report.first_error is not None and report.first_error.line == 31
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and data["truncated"] is True and data["problems"][-1]["code"] == "not_json"
    assert "20 errors, 29 warnings" in report.summary() and "line 31" in report.summary()


def test_every_reported_code_is_declared(tmp_path: Path) -> None:
    report = validate_corpus(write(tmp_path, "c.jsonl", "x\n[]\n{}\n"), min_examples=1)
    assert {p.code for p in report.problems} <= PROBLEM_CODES


# ---------------------------------------------------------------------------------------------
# reading, writing, hashing
# ---------------------------------------------------------------------------------------------


def test_read_pairs_is_strict_and_load_corpus_lenient(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", jl(source="a", target="b") + jl(source="a", target="b") + jl(source="c", target=""))
    with pytest.raises(CorpusError) as caught:
        read_pairs(path, src_lang="de", tgt_lang="en")
    assert caught.value.report.first_error.line == 3 and "line 3" in str(caught.value)
    pairs, report = load_corpus(path, src_lang="de", tgt_lang="en", min_examples=1)
    assert [p.line for p in pairs] == [1] and codes_at(report) == [("duplicate", 2), ("empty_field", 3)]
    with pytest.raises(FileNotFoundError):
        validate_corpus(tmp_path / "nope.jsonl")


def test_write_jsonl_round_trips_atomically(tmp_path: Path) -> None:
    pairs = [Pair(f"Grüße {i}", f"Greetings {i}\nline two", "de", "en", i + 1) for i in range(9)]
    out = write_jsonl(pairs, tmp_path / "sub" / "out.jsonl")
    assert read_pairs(out) == pairs
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.jsonl"]  # no temp file left
    assert "Grüße" in out.read_text(encoding="utf-8")  # written as UTF-8, not \\u escapes

    def broken():
        yield pairs[0]
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_jsonl(broken(), out)
    assert read_pairs(out) == pairs  # the old file survives a failed write
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.jsonl"]


def test_pair_hash_is_stable_and_ignores_the_line() -> None:
    pair = Pair("Guten Morgen!", "Good morning!", "de", "en", 1)
    # Pinned: cached rationales are keyed on this value; changing it orphans every cache.
    assert pair.pair_hash == "34506d151b72006c7e10f6eede0d0cbaa9ce6abbbe379515f345de09022baeed"
    reference = json.dumps(
        {"source": pair.source, "target": pair.target, "src_lang": "de", "tgt_lang": "en"},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )
    assert pair.pair_hash == hashlib.sha256(reference.encode()).hexdigest()
    assert Pair("Guten Morgen!", "Good morning!", "de", "en", 99).pair_hash == pair.pair_hash
    tricky = Pair('Er sagte "ja"\n\t\\ – 你好 \U0001F600', "x\u2028y", "de", "en", 1)
    expected = json.dumps({"source": tricky.source, "target": tricky.target, "src_lang": "de", "tgt_lang": "en"},
                          ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert tricky.pair_hash == hashlib.sha256(expected.encode()).hexdigest()
    assert Pair("Guten Morgen!", "Good morning.", "de", "en", 1).pair_hash != pair.pair_hash


# ---------------------------------------------------------------------------------------------
# big files
# ---------------------------------------------------------------------------------------------


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


def _reference_report(path: Path, max_tokens: int, cap: int) -> tuple[list[tuple[str, int | None, str]], list[int], dict[str, int], bool]:
    """What validation must report, computed the plain way: every pair checked against a dict on arrival."""
    problems: list[Problem] = []
    first_line_of: dict[str, int] = {}
    kept: list[int] = []
    per_language: dict[str, int] = {}
    for record in iter_records(path):
        problems += record.problems
        pair = record.pair
        if pair is None:
            continue
        if approx_token_count(pair.source) + approx_token_count(pair.target) > max_tokens:
            problems.append(Problem("too_long", pair.line, ""))
            continue
        first = first_line_of.setdefault(pair.pair_hash, pair.line)
        if first != pair.line:
            problems.append(Problem("duplicate", pair.line, f"line {pair.line}: duplicate of line {first}", severity="warning"))
            continue
        kept.append(pair.line)
        key = f"{pair.src_lang}-{pair.tgt_lang}"
        per_language[key] = per_language.get(key, 0) + 1
    first_error = next((p for p in problems if p.severity == "error"), None)
    late_first_error = first_error is not None and all(p is not first_error for p in problems[:cap])
    stored = problems[:cap] + ([first_error] if late_first_error else [])
    shown = [(p.code, p.line, p.message if p.code == "duplicate" else "") for p in stored]
    return shown, kept, per_language, len(stored) < len(problems)


@pytest.mark.parametrize("cap", [5, 1000, 100_000])
def test_duplicates_across_a_large_corpus_keep_their_lines_order_and_cap(tmp_path: Path, cap: int) -> None:
    rng = random.Random(5)
    path = tmp_path / "dups.jsonl"
    lines = []
    for i in range(30_000):  # several batches of the duplicate finder, with repeats reaching far back
        roll = rng.random()
        if roll < 0.15:
            j = rng.randrange(max(1, i // 3)) if rng.random() < 0.5 else rng.randrange(max(1, i - 50), max(2, i))
            lines.append(jl(source=f"Satz {j}", target=f"Sentence {j}", src_lang="de", tgt_lang="en"))
        elif roll < 0.17:
            lines.append("{oops\n")
        elif roll < 0.18:
            lines.append(jl(source=f"Satz {i} " + "lang " * 60, target="long", src_lang="de", tgt_lang="en"))
        elif roll < 0.19:
            lines.append(jl(source=f"Phrase {i % 500}", target=f"Sentence {i % 500}", src_lang="fr", tgt_lang="en"))
        else:
            lines.append(jl(source=f"Satz {i}", target=f"Sentence {i}", src_lang="de", tgt_lang="en"))
    path.write_text("".join(lines), encoding="utf-8")
    shown, kept, per_language, truncated = _reference_report(path, max_tokens=64, cap=cap)
    assert sum(code == "duplicate" for code, _, _ in shown) > min(cap, 1000) // 2  # the test does test duplicates

    pairs, report = load_corpus(path, max_tokens=64, max_problems=cap, min_examples=1)
    assert [(p.code, p.line, p.message if p.code == "duplicate" else "") for p in report.problems[: len(shown)]] == shown
    assert [p.code for p in report.problems[len(shown) :]] == ["mixed_language_pairs"]
    assert [p.line for p in pairs] == kept and report.n_pairs == len(kept)
    assert report.language_pairs == per_language and report.truncated is truncated
    assert all(p.excerpt.startswith("Satz ") or p.excerpt.startswith("Phrase ") for p in report.problems if p.code == "duplicate")
    again = validate_corpus(path, max_tokens=64, max_problems=cap, min_examples=1)
    assert again.to_dict() == report.to_dict()


_PEAK_MEMORY_PROBE = """
import json, sys
from radis_core.corpus import validate_corpus
import numpy
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
base = status("VmRSS:")
report = validate_corpus(sys.argv[1])
print(json.dumps({"n_pairs": report.n_pairs, "peak": status("VmHWM:") - base}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_duplicate_detection_memory_per_pair_is_small(tmp_path: Path) -> None:
    path = tmp_path / "distinct.jsonl"
    row = '{"source": "Satz Nummer %d ist hier.", "target": "Sentence number %d is here.", "src_lang": "de", "tgt_lang": "en"}\n'
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(row % (i, i) for i in range(150_000))
    # A fresh process: its peak RSS over the baseline after imports is what validating added.
    result = subprocess.run([sys.executable, "-c", _PEAK_MEMORY_PROBE, str(path)], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parents[2])
    measured = json.loads(result.stdout)
    assert measured["n_pairs"] == 150_000
    # A dict entry per pair (a hex digest and a line) took ~190 bytes a pair: +28 MB here.
    assert measured["peak"] < 16 << 20, f"peak +{measured['peak'] / 2**20:.1f} MiB validating 150k distinct pairs"


def test_a_huge_line_is_skipped_without_being_held_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(jl(source="a", target="b", src_lang="de", tgt_lang="en"))
        fh.write('{"source": "' + "x" * (16 << 20) + '", "target": "y"}\n')
        fh.write(jl(source="c", target="d", src_lang="de", tgt_lang="en"))
    tracemalloc.start()
    try:
        report = validate_corpus(path, min_examples=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert codes_at(report) == [("too_long", 2)] and report.n_pairs == 2 and report.n_lines == 3
    assert peak < 4 << 20, f"peak {peak / 2**20:.1f} MiB while skipping a 16 MiB line"
