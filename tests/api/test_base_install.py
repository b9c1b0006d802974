"""The base package installs and runs without torch: a clean virtual environment, ``pip install <repo>``
(no extras, dependencies resolved from the configured index), then ``radis migrate``, ``radis api``
answering ``/healthz``, the ``radis`` client commands, and ``import torch`` failing there.

The import-level check (nothing under ``api`` imports torch) is :mod:`tests.api.test_torch_free`; this one
proves the packaging: that pyproject's base dependencies alone are enough for the API and the CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from radis_cli.demo import free_port, stop_process_group, wait_ready

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "peft", "accelerate", "gguf")


def _copy_tracked_files(dest: Path) -> None:
    """The working tree (tracked and untracked files git does not ignore), so pip builds in a folder of its own and
    leaves no build/ or egg-info behind in the shared tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())


def _clean_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RADIS_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(RADIS_DATA_DIR=str(tmp / "data"), RADIS_CACHE_DIR=str(tmp / "cache"), HOME=str(tmp / "home"), COLUMNS="200")
    return env


@pytest.mark.slow
def test_the_base_package_runs_the_api_and_the_cli_without_torch(tmp_path: Path) -> None:
    src, venv = tmp_path / "src", tmp_path / "venv"
    _copy_tracked_files(src)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python, radis = venv / "bin" / "python", venv / "bin" / "radis"
    env = _clean_env(tmp_path)
    # No extras, no --no-deps: pip resolves the base dependencies from the index it is configured with.
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(src)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr[-4000:]

    probe = f"import importlib.util, json; print(json.dumps([m for m in {HEAVY!r} if importlib.util.find_spec(m)]))"
    found = subprocess.run([str(python), "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]", f"the base install pulled in {found.stdout.strip()}"
    imported = subprocess.run([str(python), "-c", "import torch"], env=env, capture_output=True, text=True)
    assert imported.returncode != 0 and "No module named 'torch'" in imported.stderr

    # The CLI: its help, the settings contract (radis_core's pure part), and the schema migration.
    assert subprocess.run([str(radis), "--help"], env=env, capture_output=True, check=False).returncode == 0
    settings = subprocess.run([str(radis), "settings"], env=env, capture_output=True, text=True)
    assert settings.returncode == 0, settings.stderr
    assert "learning_rate" in settings.stdout
    migrate = subprocess.run([str(radis), "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert migrate.returncode == 0, migrate.stderr

    port = free_port()
    log_path = tmp_path / "api.log"
    with log_path.open("wb") as log:
        api = subprocess.Popen(
            [str(radis), "api", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, api, timeout=120)
        health = httpx.get(f"{base}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        # The API lists the catalogue without loading a model (a key is needed, so 401 is the answer).
        assert httpx.get(f"{base}/v1/models", timeout=10).status_code == 401
    finally:
        stop_process_group(api)
    assert "No module named" not in log_path.read_text(errors="replace")
