"""The package as others import it: the names they use, and no heavy imports (the web API imports it)."""

from __future__ import annotations

import subprocess
import sys

import radis_core.corpus as corpus
from tests.radis_core.corpus.helpers import REPO_ROOT


def test_corpus_modules_do_not_import_torch() -> None:
    code = (
        "import sys, radis_core.corpus, radis_core.languages, radis_core.demo_data, radis_core.django_corpus;"
        "bad = sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules);"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_numpy_waits_for_the_first_validation() -> None:
    # Duplicate finding needs numpy; importing the package (every API process does) must not.
    code = "import sys, radis_core.corpus; assert 'numpy' not in sys.modules, 'numpy imported at module level'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_the_names_callers_import_are_reexported() -> None:
    # api/, worker/, radis_cli/, bench/, radis_core/ and the tests import these from the package itself.
    used = {
        "Pair",
        "write_jsonl",
        "read_pairs",
        "validate_corpus",
        "load_corpus",
        "ValidationReport",
        "CorpusLimits",
        "PROBLEM_CODES",
        "CorpusError",
        "Problem",
        "UnknownFormatError",
        "approx_token_count",
        "detect_format",
        "iter_records",
        "Record",
        "RecordStream",
        "FORMATS",
    }
    assert used <= set(corpus.__all__)
    for name in corpus.__all__:
        assert getattr(corpus, name) is not None
    assert not [name for name in corpus.__all__ if name.startswith("_")]
