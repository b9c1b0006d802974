"""Language codes as the corpus reads them (``radis_core.languages``): normalising, names, unknown codes."""

from __future__ import annotations

import pytest

from radis_core import languages


@pytest.mark.parametrize(
    ("code", "canonical"),
    [
        ("de", "de"),
        ("DEU", "de"),
        ("ger", "de"),
        ("de-DE", "de"),
        ("de_AT", "de"),
        ("zh-Hans-CN", "zh"),
        ("cmn", "zh"),
        ("jpn", "ja"),
        ("pt-BR", "pt"),
        (" en ", "en"),
        ("yue", "yue"),
        ("ceb", "ceb"),
    ],
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
