"""The `radis` command: key management, and `radis serve` running the embedded default for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from radis_cli.demo import free_port, stop_process_group, wait_ready
from radis_core.corpus import Pair, write_jsonl
from radis_core.tiny import build_tiny_model

ROOT = Path(__file__).resolve().parents[2]


def _radis(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "radis_cli.main", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADIS_")}
    env.update(RADIS_DATA_DIR=str(tmp_path / "data"), RADIS_CACHE_DIR=str(tmp_path / "cache"), RADIS_ALLOW_LOCAL_MODELS="true")
    return env


def test_keys_create_list_revoke_on_the_embedded_database(tmp_path):
    env = _env(tmp_path)
    created = _radis(env, "keys", "create", "--project", "team-a", "--name", "ci")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    key_id = created.stdout.split("key id ")[1].split()[0]
    assert secret.startswith("sk-radis-")
    listed = _radis(env, "keys", "list", "--project", "team-a", "--json")
    assert secret not in listed.stdout  # only the prefix is ever shown
    (row,) = json.loads(listed.stdout)
    assert row["id"] == key_id and secret.startswith(row["prefix"]) and row["revoked_at"] is None
    assert _radis(env, "keys", "revoke", key_id).returncode == 0
    (row,) = json.loads(_radis(env, "keys", "list", "--project", "team-a", "--json").stdout)
    assert row["revoked_at"] is not None
    assert _radis(env, "keys", "list", "--project", "nobody").returncode == 1


@pytest.mark.slow
def test_serve_runs_a_job_on_the_embedded_default(tmp_path):
    env = _env(tmp_path)
    secret = _radis(env, "keys", "create", "--project", "p").stdout.strip().splitlines()[-1]
    tiny = build_tiny_model(tmp_path / "tiny")
    write_jsonl([Pair(f"Ich habe {i} Hunde.", f"I have {i} dogs.", "de", "en", i + 1) for i in range(12)], tmp_path / "t.jsonl")
    port = free_port()
    with open(tmp_path / "serve.log", "wb") as log:  # the server keeps its own descriptor of the log
        proc = subprocess.Popen(
            [sys.executable, "-m", "radis_cli.main", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc, timeout=90)
        deadline = time.time() + 120
        c = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
        f = c.post(
            "/v1/files", files={"file": ("t.jsonl", (tmp_path / "t.jsonl").read_bytes())}, data={"purpose": "fine-tune"}
        ).json()
        body = {
            "model": str(tiny),
            "training_file": f["id"],
            "method": {
                "type": "supervised",
                "supervised": {
                    "hyperparameters": {"batch_size": 4, "n_epochs": 1, "lora_rank": 4},
                    "evaluation": {"max_new_tokens": 8, "retention": False},
                },
            },
        }
        job = c.post("/v1/fine_tuning/jobs", json=body).json()
        while (job := c.get(f"/v1/fine_tuning/jobs/{job['id']}").json())["status"] not in ("succeeded", "failed", "cancelled"):
            assert time.time() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            time.sleep(0.5)
        assert job["status"] == "succeeded", job
        assert (tmp_path / "data" / "radis.db").exists() and (tmp_path / "data" / "broker.db").exists()
    finally:
        stop_process_group(proc, grace=30)
