"""`radis demo`'s options: the corpus languages it offers, refused before anything starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from radis_cli.demo import DEMO_LANGS
from radis_core.django_corpus import LOCALES

ROOT = Path(__file__).resolve().parents[2]


def test_demo_languages_are_the_django_corpus_languages() -> None:
    assert tuple(LOCALES) == DEMO_LANGS


def test_an_unknown_language_is_refused_before_the_service_starts(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "radis_cli.main", "demo", "--lang", "fr", "--out", str(tmp_path / "demo")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "'fr' is not one of de, cs, ru, zh" in done.stdout + done.stderr
    assert not (tmp_path / "demo").exists()
