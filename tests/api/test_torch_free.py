"""The web process must start small: nothing in it may import torch, transformers or peft."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("torch", "transformers", "peft")

_PROBE = """
import importlib, json, pkgutil, sys
import api
for module in pkgutil.walk_packages(api.__path__, "api."):
    importlib.import_module(module.name)
from api.main import create_app
from store.settings import Settings
create_app(Settings(data_dir=sys.argv[1]))
loaded_by_api = [name for name in {heavy} if name in sys.modules]
# The first job sent imports the worker's queue client into this process as well.
import worker.app
loaded_with_queue = [name for name in {heavy} if name in sys.modules]
print(json.dumps([loaded_by_api, loaded_with_queue]))
"""


def test_the_api_imports_no_torch(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY), str(tmp_path / "data")],
        cwd=tmp_path,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "RADIS_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    loaded_by_api, loaded_with_queue = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded_by_api == []
    assert loaded_with_queue == []
