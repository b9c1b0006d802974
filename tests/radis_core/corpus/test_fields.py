"""Field checks: every record-level problem code, with its line and field."""

from __future__ import annotations

from pathlib import Path

from radis_core.corpus import CorpusLimits, validate_corpus
from tests.radis_core.corpus.helpers import codes_at, jl, write


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
    report = validate_corpus(write(tmp_path, "c.jsonl", "".join(lines)), limits=CorpusLimits(min_examples=1))
    assert codes_at(report) == [
        ("not_json", 2),
        ("not_object", 3),
        ("missing_field", 4),
        ("empty_field", 5),
        ("wrong_type", 6),
        ("unknown_language", 7),
        ("missing_language", 8),
        ("same_language", 9),
        ("source_equals_target", 10),
        ("duplicate", 11),
        ("nul_byte", 12),
        ("not_utf8", 13),
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
