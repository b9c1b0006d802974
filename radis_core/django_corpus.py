"""English → X parallel data from Django's gettext catalogues: real human translations, offline.

Source: the PyPI wheel ``Django==5.2.19`` (:data:`DJANGO_WHEEL`, sha256-pinned), licence
**BSD-3-Clause**, "Copyright (c) Django Software Foundation and individual contributors" (the .po
files say "This file is distributed under the same license as the Django package"; the translators
are named in each file's header). It is not installed: :func:`radis_core.wheels.find_or_download_wheel`
fetches the file with pip and this module reads it as a zip.

Inside: ``django/conf/locale/<locale>/LC_MESSAGES/django.po`` and the contrib apps' catalogues
``django/contrib/<app>/locale/<locale>/LC_MESSAGES/django.po`` (``djangojs.po`` is not read). Each
entry's ``msgid`` is the English text Django's developers wrote and ``msgstr`` the human translation,
so the pairs are faithful: no localised names or numbers, as in the GSM data of
:mod:`radis_core.demo_data`. The languages are the RaDis paper's four: German (``de``), Czech
(``cs``), Russian (``ru``) and Simplified Chinese (``zh``, Django's ``zh_Hans``).

Which entries become pairs (:func:`load_django_pairs`), in this order of checks:

- obsolete (``#~``) and ``fuzzy`` entries are skipped (a fuzzy translation is a guess awaiting review);
- a plural entry contributes its singular: ``msgid`` with ``msgstr[0]``, which in all four languages
  is the form used for one (German/Czech/Russian "one", Chinese's only form);
- an entry with an empty translation is skipped;
- ``msgctxt`` (a disambiguation hint) is dropped; whitespace runs are collapsed to one space on both
  sides (multi-line template strings become one line);
- not sentence-like: an English side of fewer than ``min_words`` whitespace-separated words
  (default :data:`MIN_WORDS` = 5) is skipped (labels such as "Date/time" or "%(num)d year");
- a pair whose translation does not keep the English side's placeholders (``%(name)s``, ``{obj}``,
  markup; see :mod:`radis_core.evaluation.placeholders`) is skipped: as a training target it would
  teach dropping them;
- an English text seen before (another catalogue, another ``msgctxt``) is skipped: one reference
  per source, the first in reading order.

Placeholders are kept verbatim. Order: catalogue paths sorted (``conf`` first, then the contrib
apps alphabetically), entries in file order; :func:`split_pairs` shuffles with a seed.
"""

from __future__ import annotations

import random
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polib

from radis_core.corpus import Pair
from radis_core.evaluation.placeholders import preserves_placeholders
from radis_core.wheels import PinnedWheel

DJANGO_WHEEL = PinnedWheel(
    package="Django",
    version="5.2.19",
    filename="django-5.2.19-py3-none-any.whl",
    sha256="5965d974a5218a2b68a11dd1276434707f23886525c23f0598eccedaf4f4ca00",
)
LICENSE = "BSD-3-Clause"
COPYRIGHT = "Copyright (c) Django Software Foundation and individual contributors."
#: Our language code → Django's locale folder.
LOCALES: dict[str, str] = {"de": "de", "cs": "cs", "ru": "ru", "zh": "zh_Hans"}
MIN_WORDS = 5
_CATALOGUE = re.compile(r"django/(?:conf|contrib/[a-z_]+)/locale/(?P<locale>[A-Za-z_]+)/LC_MESSAGES/django\.po")


@dataclass
class DjangoCorpus:
    """The pairs of one language and how the catalogue entries were counted on the way.

    ``counts``: ``read`` (entries, header excluded), then one key per reason an entry was skipped
    (``obsolete``, ``fuzzy``, ``untranslated``, ``short``, ``placeholders_lost``, ``duplicate``),
    ``plural_singulars`` (plural entries kept as their singular) and ``kept``,
    ``with_placeholders`` (kept pairs whose English side has any).
    """

    lang: str
    min_words: int
    pairs: list[Pair]
    counts: dict[str, int]
    catalogues: list[str] = field(default_factory=list)

    def provenance(self) -> dict[str, Any]:
        """Where the pairs came from, for the metadata a corpus is written with (JSON-ready)."""
        return {
            "source": "Django gettext catalogues (human translations)",
            "package": DJANGO_WHEEL.package,
            "version": DJANGO_WHEEL.version,
            "wheel": DJANGO_WHEEL.filename,
            "sha256": DJANGO_WHEEL.sha256,
            "license": LICENSE,
            "copyright": COPYRIGHT,
            "direction": f"en-{self.lang}",
            "locale": LOCALES[self.lang],
            "catalogues": list(self.catalogues),
            "min_words": self.min_words,
            "counts": dict(self.counts),
        }


def _normalise(text: str) -> str:
    return " ".join(text.split())


def catalogue_paths(wheel: Path, lang: str) -> list[str]:
    """The ``django.po`` members of the wheel for ``lang`` (one of :data:`LOCALES`), sorted."""
    if lang not in LOCALES:
        raise ValueError(f"no Django corpus for {lang!r}; available: {', '.join(LOCALES)}")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    paths = sorted(n for n in names if (m := _CATALOGUE.fullmatch(n)) and m["locale"] == LOCALES[lang])
    if not paths:
        raise ValueError(f"{Path(wheel).name} has no django.po catalogues for {LOCALES[lang]!r}")
    return paths


def load_django_pairs(wheel: Path, lang: str = "de", *, min_words: int = MIN_WORDS) -> DjangoCorpus:
    """English → ``lang`` pairs from the wheel's catalogues (the rules are in the module docstring).

    ``lang`` is ``de``, ``cs``, ``ru`` or ``zh``; ``line`` is a pair's 1-based position in the list.
    """
    if min_words < 1:
        raise ValueError(f"min_words must be ≥ 1, got {min_words}")
    paths = catalogue_paths(wheel, lang)
    reasons = ("obsolete", "fuzzy", "untranslated", "short", "placeholders_lost", "duplicate")
    counts = dict.fromkeys(("read", *reasons, "plural_singulars", "kept", "with_placeholders"), 0)
    pairs: list[Pair] = []
    seen: set[str] = set()
    with zipfile.ZipFile(wheel) as archive:
        for path in paths:
            try:
                catalogue = polib.pofile(archive.read(path).decode("utf-8"))
            except (UnicodeDecodeError, OSError, ValueError) as exc:
                raise ValueError(f"{Path(wheel).name}: cannot read {path}: {exc}") from exc
            for entry in catalogue:
                counts["read"] += 1
                reason, source, target = _judge(entry, min_words, seen)
                if reason:
                    counts[reason] += 1
                    continue
                seen.add(source)
                counts["plural_singulars"] += bool(entry.msgid_plural)
                counts["with_placeholders"] += preserves_placeholders(source, target) is not None
                pairs.append(Pair(source, target, "en", lang, len(pairs) + 1))
    counts["kept"] = len(pairs)
    return DjangoCorpus(lang=lang, min_words=min_words, pairs=pairs, counts=counts, catalogues=paths)


def _judge(entry: polib.POEntry, min_words: int, seen: set[str]) -> tuple[str | None, str, str]:
    """``(reason to skip or None, English text, translation)`` for one catalogue entry."""
    if entry.obsolete:
        return "obsolete", "", ""
    if "fuzzy" in entry.flags:
        return "fuzzy", "", ""
    source = _normalise(entry.msgid)
    target = _normalise(entry.msgstr_plural.get(0, "") if entry.msgid_plural else entry.msgstr)
    if not source or not target:
        return "untranslated", source, target
    if len(source.split()) < min_words:
        return "short", source, target
    if preserves_placeholders(source, target) is False:
        return "placeholders_lost", source, target
    if source in seen:
        return "duplicate", source, target
    return None, source, target


def split_pairs(pairs: Sequence[Pair], n_train: int, n_valid: int, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """Shuffle with ``random.Random(seed)``; the first ``n_train`` train, the next ``n_valid`` validate.

    The same seed gives the same split, and the two never overlap. Lines are renumbered from 1 in
    each part. Raises ValueError when more pairs are asked for than there are.
    """
    if n_train < 1 or n_valid < 0:
        raise ValueError(f"n_train must be ≥ 1 and n_valid ≥ 0, got {n_train} and {n_valid}")
    if n_train + n_valid > len(pairs):
        raise ValueError(f"asked for {n_train} + {n_valid} pairs, the data has {len(pairs)}")
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)

    def renumber(indices: list[int]) -> list[Pair]:
        return [
            Pair(pairs[i].source, pairs[i].target, pairs[i].src_lang, pairs[i].tgt_lang, n)
            for n, i in enumerate(indices, start=1)
        ]

    return renumber(order[:n_train]), renumber(order[n_train : n_train + n_valid])
