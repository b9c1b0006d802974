"""``radis projects show|set`` on migrated Postgres: the storage quota and job budget of a project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_projects_show_and_set_limits(tmp_path: Path, make_pg_database: Callable[..., str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADIS_")}
    env.update(
        RADIS_DATA_DIR=str(tmp_path / "data"),
        RADIS_DATABASE_URL=make_pg_database(),
        RADIS_MAX_STORAGE_BYTES_PER_PROJECT="1000000",
        RADIS_JOB_WALL_TIME_S="3600",
        RADIS_MAX_JOB_WALL_TIME_S="7200",
    )

    def radis(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "radis_cli.main", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )

    assert radis("keys", "create", "--project", "team-a").returncode == 0
    shown = json.loads(radis("projects", "show", "team-a", "--json").stdout)
    assert (shown["max_storage_bytes"], shown["max_storage_bytes_is_own"], shown["storage_used_bytes"]) == (1_000_000, False, 0)
    assert (shown["job_wall_time_s"], shown["job_wall_time_s_is_own"]) == (3600, False)

    changed = radis("projects", "set", "team-a", "--max-storage-bytes", "5_000", "--job-wall-time-s", "600")
    assert changed.returncode == 0, changed.stderr
    assert "max_storage_bytes: 5000  (project)" in changed.stdout
    shown = json.loads(radis("projects", "show", "team-a", "--json").stdout)
    assert (shown["max_storage_bytes"], shown["job_wall_time_s"]) == (5000, 600)

    too_long = radis("projects", "set", "team-a", "--job-wall-time-s", "7201")
    assert too_long.returncode != 0 and "max_job_wall_time_s" in too_long.stderr
    assert radis("projects", "set", "team-a", "--max-storage-bytes", "lots").returncode != 0
    assert radis("projects", "set", "team-a", "--max-storage-bytes", "default").returncode == 0
    assert json.loads(radis("projects", "show", "team-a", "--json").stdout)["max_storage_bytes"] == 1_000_000
    tokens = radis("projects", "set", "team-a", "--job-token-budget", "20_000", "--json")
    assert tokens.returncode == 0, tokens.stderr
    assert (json.loads(tokens.stdout)["job_token_budget"], json.loads(tokens.stdout)["job_token_budget_is_own"]) == (20_000, True)
    assert radis("projects", "set", "team-a", "--job-token-budget", "0").returncode != 0
    assert radis("projects", "show", "nobody").returncode != 0
