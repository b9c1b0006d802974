"""``bench/load.py`` runs end to end at a small size and its own checks hold: every job it created is
stored once and queued once, and no request failed (the full 200-client run is in BENCHMARKS.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PG_SERVER_URL

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_load_script_creates_polls_and_accounts_for_every_job(redis_db_url: str, tmp_path: Path) -> None:
    redis = make_url(redis_db_url)
    report_path = tmp_path / "load.json"
    run = subprocess.run(
        [
            sys.executable,
            "bench/load.py",
            "--clients",
            "40",
            "--jobs-per-client",
            "2",
            "--polls",
            "2",
            "--projects",
            "4",
            "--pg",
            PG_SERVER_URL,
            "--redis-host",
            redis.host,
            "--redis-port",
            str(redis.port),
            "--redis-db",
            redis.database,
            "--timeout",
            "120",
            "--json",
            str(report_path),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["jobs_created"] == 80 and report["failures"] == {}
    assert report["store"]["jobs"] == 81 and report["queue"]["messages"] == 81  # the untimed warm-up job included
    assert all(report["checks"].values()), report["checks"]
    assert report["latency_ms"]["create"]["n"] == 80 and report["latency_ms"]["poll"]["n"] == 160
