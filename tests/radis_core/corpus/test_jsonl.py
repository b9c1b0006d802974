"""JSON Lines records: pairs, Hugging Face translation and OpenAI chat lines."""

from __future__ import annotations

import json
from pathlib import Path

from radis_core.corpus import CorpusLimits, Pair, detect_format, load_corpus, validate_corpus
from tests.radis_core.corpus.helpers import codes_at, jl, only, write


def test_jsonl_pairs_with_caller_languages(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.jsonl",
        jl(source=" Hallo Welt ", target="Hello world") + jl(source="Ja", target="Yes", src_lang="deu", tgt_lang="en-GB"),
    )
    pairs, report = load_corpus(path, src_lang="de", tgt_lang="en", limits=CorpusLimits(min_examples=2))
    assert report.ok and report.format == "jsonl_pairs" and report.n_pairs == 2
    assert pairs == [Pair("Hallo Welt", "Hello world", "de", "en", 1), Pair("Ja", "Yes", "de", "en", 2)]
    assert report.language_pairs == {"de-en": 2}


def test_jsonl_translation_key_order_and_caller_direction(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", jl(translation={"de": "Hund", "en": "dog"}) + jl(translation={"en": "cat", "de": "Katze"}))
    assert detect_format(path) == "jsonl_translation"
    pairs, report = load_corpus(path, limits=CorpusLimits(min_examples=1))
    # Without caller languages the key order decides: first key = source.
    assert [(p.source, p.src_lang, p.target, p.tgt_lang) for p in pairs] == [
        ("Hund", "de", "dog", "en"),
        ("cat", "en", "Katze", "de"),
    ]
    assert only(report, "mixed_language_pairs")[0].severity == "warning"
    pairs, report = load_corpus(path, src_lang="en", tgt_lang="de", limits=CorpusLimits(min_examples=1))
    assert [(p.source, p.target) for p in pairs] == [("dog", "Hund"), ("cat", "Katze")]
    assert report.ok and report.language_pairs == {"en-de": 2}


def test_jsonl_translation_needs_languages_when_ambiguous(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.jsonl",
        jl(translation={"de": "Hund", "en": "dog", "fr": "chien"}) + jl(translation={"de": "Katze", "en": "cat"}),
    )
    report = validate_corpus(path, limits=CorpusLimits(min_examples=1))
    assert codes_at(report) == [("missing_language", 1)]
    pairs, report = load_corpus(path, src_lang="fr", tgt_lang="en", limits=CorpusLimits(min_examples=1))
    assert [(p.source, p.target) for p in pairs] == [("chien", "dog")]
    assert codes_at(report) == [("missing_field", 2)] and report.problems[0].field == "translation.fr"


def test_jsonl_chat_strips_instruction_and_reads_languages(tmp_path: Path) -> None:
    lines = [
        {
            "messages": [
                {"role": "system", "content": "You translate."},
                {"role": "user", "content": "Translate the following text from German to English.\n\nGuten Tag"},
                {"role": "assistant", "content": "Good day"},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Bonjour"}]},
                {"role": "assistant", "content": "Hello"},
            ],
            "src_lang": "fr",
            "tgt_lang": "en",
        },
        {
            "messages": [
                {"role": "user", "content": "Translate from Chinese (Simplified) into English: 你好"},
                {"role": "assistant", "content": "Hi"},
            ]
        },
        {"messages": [{"role": "user", "content": "Buenos días"}, {"role": "assistant", "content": "Good morning"}]},
    ]
    path = write(tmp_path, "chat.jsonl", "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    assert detect_format(path) == "jsonl_chat"
    pairs, report = load_corpus(path, src_lang="es", tgt_lang="en", limits=CorpusLimits(min_examples=1))
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
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"},
                {"role": "assistant", "content": "d"},
            ]
        },
        {"messages": "Hallo"},
        {
            "messages": [
                {"role": "user", "content": "Translate from Klingon to English:\nQapla'"},
                {"role": "assistant", "content": "Success"},
            ]
        },
        {"messages": [{"content": "x"}, {"role": "assistant", "content": "y"}]},
        {"source": "Hallo", "target": "Hello"},
    ]
    path = write(tmp_path, "chat.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    report = validate_corpus(path, src_lang="de", tgt_lang="en", limits=CorpusLimits(min_examples=0))
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


def test_truncated_last_json_line(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", jl(source="a", target="b", src_lang="de", tgt_lang="en") + '{"source": "Hal')
    report = validate_corpus(path, limits=CorpusLimits(min_examples=1))
    assert codes_at(report) == [("not_json", 2)]
    assert "cut short" in report.problems[0].message
