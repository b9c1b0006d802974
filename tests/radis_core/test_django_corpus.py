"""English → X pairs from Django's catalogues: the entry rules on a crafted wheel, the counts on the pinned one."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from radis_core import demo_data
from radis_core.corpus import Pair
from radis_core.django_corpus import DJANGO_WHEEL, LOCALES, catalogue_paths, load_django_pairs, split_pairs
from radis_core.evaluation.placeholders import preserves_placeholders
from radis_core.wheels import copy_wheel_into_cache, find_or_download_wheel
from tests.radis_core.corpus.helpers import REPO_ROOT
from tests.radis_core.wheel_cache import cache_with_wheel

HEADER = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'

CORE = (
    HEADER
    + """msgid "Enter a valid %(protocol)s address please."
msgstr "Bitte eine gültige %(protocol)s-Adresse eingeben."

#, fuzzy
msgid "This translation is only a guess."
msgstr "Diese Übersetzung ist geraten."

#~ msgid "An obsolete entry no longer used."
#~ msgstr "Ein veralteter Eintrag."

msgid "This entry has not been translated yet."
msgstr ""

msgid "Date/time"
msgstr "Datum/Zeit"

msgctxt "naturaltime"
msgid "Ensure this value has at least %(limit_value)d character (it has %(show_value)d)."
msgid_plural "Ensure this value has at least %(limit_value)d characters (it has %(show_value)d)."
msgstr[0] "Mindestens %(limit_value)d Zeichen (es ist %(show_value)d)."
msgstr[1] "Mindestens %(limit_value)d Zeichen (es sind %(show_value)d)."

msgid "%(count)s %(name)s was changed successfully."
msgid_plural "%(count)s %(name)s were changed successfully."
msgstr[0] "Ein %(name)s wurde erfolgreich geändert."
msgstr[1] "%(count)s %(name)s wurden erfolgreich geändert."

msgid ""
"Your password has been set.  You may go ahead\\n"
"    and log in now."
msgstr "Ihr Passwort wurde gesetzt.   Sie können sich nun anmelden. "
"""
)
ADMIN = (
    HEADER
    + """msgctxt "another context"
msgid "Enter a valid %(protocol)s address please."
msgstr "Eine andere Übersetzung mit %(protocol)s."

msgid "The {name} “{obj}” was added successfully."
msgstr "{name} „{obj}“ wurde erfolgreich hinzugefügt."
"""
)


@pytest.fixture
def crafted(tmp_path: Path) -> Path:
    wheel = tmp_path / "django-crafted.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("django/contrib/admin/locale/de/LC_MESSAGES/django.po", ADMIN)
        zf.writestr("django/conf/locale/de/LC_MESSAGES/django.po", CORE)
        zf.writestr("django/conf/locale/de/LC_MESSAGES/djangojs.po", HEADER + 'msgid "Not read at all, a JS file."\nmsgstr "X"\n')
        zf.writestr(
            "django/conf/locale/de_CH/LC_MESSAGES/django.po", HEADER + 'msgid "Swiss German is another locale."\nmsgstr "X"\n'
        )
        zf.writestr("django/conf/locale/ru/LC_MESSAGES/django.po", HEADER)
    return wheel


def test_entry_rules_on_a_crafted_wheel(crafted: Path) -> None:
    corpus = load_django_pairs(crafted, "de")
    assert corpus.catalogues == [
        "django/conf/locale/de/LC_MESSAGES/django.po",
        "django/contrib/admin/locale/de/LC_MESSAGES/django.po",
    ]
    assert [(p.source, p.target) for p in corpus.pairs] == [
        ("Enter a valid %(protocol)s address please.", "Bitte eine gültige %(protocol)s-Adresse eingeben."),
        # Plural: the singular msgid with msgstr[0]; msgctxt dropped.
        (
            "Ensure this value has at least %(limit_value)d character (it has %(show_value)d).",
            "Mindestens %(limit_value)d Zeichen (es ist %(show_value)d).",
        ),
        # Whitespace runs and line breaks collapsed on both sides.
        (
            "Your password has been set. You may go ahead and log in now.",
            "Ihr Passwort wurde gesetzt. Sie können sich nun anmelden.",
        ),
        ("The {name} “{obj}” was added successfully.", "{name} „{obj}“ wurde erfolgreich hinzugefügt."),
    ]
    assert all(isinstance(p, Pair) and (p.src_lang, p.tgt_lang) == ("en", "de") for p in corpus.pairs)
    assert [p.line for p in corpus.pairs] == [1, 2, 3, 4]
    assert corpus.counts == {
        "read": 10,
        "obsolete": 1,
        "fuzzy": 1,
        "untranslated": 1,
        "short": 1,
        "placeholders_lost": 1,  # the plural whose singular drops %(count)s
        "duplicate": 1,  # the same English text under another msgctxt, in the admin catalogue
        "plural_singulars": 1,
        "kept": 4,
        "with_placeholders": 3,
    }
    # Fewer words required: "Date/time" is one word, still short at 2.
    assert load_django_pairs(crafted, "de", min_words=2).counts["short"] == 1
    assert load_django_pairs(crafted, "de", min_words=1).counts["short"] == 0


def test_languages_and_errors(crafted: Path) -> None:
    assert LOCALES == {"de": "de", "cs": "cs", "ru": "ru", "zh": "zh_Hans"}
    with pytest.raises(ValueError, match="available: de, cs, ru, zh"):
        load_django_pairs(crafted, "fr")
    with pytest.raises(ValueError, match="no django.po catalogues for 'cs'"):
        catalogue_paths(crafted, "cs")
    assert load_django_pairs(crafted, "ru").pairs == []
    with pytest.raises(ValueError, match="min_words"):
        load_django_pairs(crafted, "de", min_words=0)


def test_split_is_seeded_disjoint_and_renumbered() -> None:
    pairs = [Pair(f"Sentence number {i} is here.", f"Satz {i}.", "en", "de", i + 1) for i in range(30)]
    train, valid = split_pairs(pairs, 20, 5, seed=3)
    assert split_pairs(pairs, 20, 5, seed=3) == (train, valid)
    assert split_pairs(pairs, 20, 5, seed=4) != (train, valid)
    assert len(train) == 20 and len(valid) == 5 and not {p.source for p in train} & {p.source for p in valid}
    assert [p.line for p in train] == list(range(1, 21)) and [p.line for p in valid] == list(range(1, 6))
    with pytest.raises(ValueError, match="the data has 30"):
        split_pairs(pairs, 26, 5)
    with pytest.raises(ValueError, match="n_train"):
        split_pairs(pairs, 0, 5)


@pytest.fixture(scope="module")
def django_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cache_with_wheel(tmp_path_factory.mktemp("django-cache"), DJANGO_WHEEL)


#: The counts of the pinned wheel (5.2.19): read, kept, with placeholders, plural singulars kept.
PINNED_COUNTS = {"de": (844, 194, 93, 14), "cs": (842, 203, 95, 13), "ru": (844, 204, 97, 14), "zh": (842, 203, 95, 14)}


@pytest.mark.parametrize("lang", list(LOCALES))
def test_pinned_wheel_counts_and_faithful_pairs(django_wheel: Path, lang: str) -> None:
    corpus = load_django_pairs(django_wheel, lang)
    c = corpus.counts
    assert (c["read"], c["kept"], c["with_placeholders"], c["plural_singulars"]) == PINNED_COUNTS[lang]
    assert len(corpus.catalogues) == 12 and corpus.catalogues[0] == f"django/conf/locale/{LOCALES[lang]}/LC_MESSAGES/django.po"
    assert len({p.source for p in corpus.pairs}) == len(corpus.pairs)
    assert all(len(p.source.split()) >= 5 and p.target and p.source == p.source.strip() for p in corpus.pairs)
    assert all(preserves_placeholders(p.source, p.target) is not False for p in corpus.pairs)
    assert load_django_pairs(django_wheel, lang).pairs == corpus.pairs  # deterministic
    by_source = {p.source: p.target for p in corpus.pairs}
    assert "%(protocol)s" in by_source["Enter a valid %(protocol)s address."]
    script = {
        "de": r"\b(der|die|das|und|ist|nicht|ein|eine|Sie|bitte|für|zu)\b",
        "cs": r"[ěščřžýáíé]",
        "ru": r"[а-яё]",
        "zh": r"[\u4e00-\u9fff]",
    }[lang]
    assert sum(bool(re.search(script, p.target, re.I)) for p in corpus.pairs) >= 0.8 * len(corpus.pairs)
    provenance = corpus.provenance()
    assert provenance["license"] == "BSD-3-Clause" and provenance["version"] == "5.2.19" and provenance["locale"] == LOCALES[lang]


def test_django_pin_downloads_without_a_python_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, django_wheel: Path
) -> None:
    calls = []

    def fake_pip(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        (Path(command[command.index("-d") + 1]) / DJANGO_WHEEL.filename).write_bytes(django_wheel.read_bytes())
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_pip)
    assert find_or_download_wheel(DJANGO_WHEEL, tmp_path).read_bytes() == django_wheel.read_bytes()
    assert "Django==5.2.19" in calls[0] and "--only-binary=:all:" in calls[0] and "--python-version" not in calls[0]
    copied = copy_wheel_into_cache(DJANGO_WHEEL, django_wheel, tmp_path / "offline")
    assert copied == tmp_path / "offline" / "wheels" / DJANGO_WHEEL.filename and copied.read_bytes() == django_wheel.read_bytes()
    with pytest.raises(ValueError, match="sha256 mismatch"):
        demo_data.copy_wheel_into_cache(django_wheel, tmp_path / "other")  # the GSM pin refuses another file


def test_module_imports_no_torch() -> None:
    code = "import sys, radis_core.django_corpus; bad = [m for m in ('torch', 'transformers') if m in sys.modules]; assert not bad, bad"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)
