"""The ``radis`` client commands driven against the real service: a uvicorn API and a Celery worker on
Postgres and Redis (the fixture of ``tests/test_service_e2e.py``), the tiny model, each command a process."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from radis_cli.client import EXIT_AUTH, EXIT_ERROR, EXIT_JOB_CANCELLED, EXIT_JOB_FAILED
from tests.test_service_e2e import SMALL, Service, service_fixture  # noqa: F401 - registers the module-scoped fixture `service` here

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


class Radis:
    """Runs ``radis …`` as a user would, with its config file in the test's folder."""

    def __init__(self, tmp: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RADIS_")}
        self.env.update(RADIS_CONFIG=str(tmp / "config" / "radis.json"), COLUMNS="160", PYTHONUNBUFFERED="1")

    def __call__(self, *args: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "radis_cli.main", *args],
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout)


def test_login_upload_create_watch_inspect_download(service: Service, tmp_path: Path) -> None:
    radis = Radis(tmp_path)
    login = radis("login", "--base-url", service.base, "--api-key", service.key)
    assert login.returncode == 0, login.stderr
    config = tmp_path / "config" / "radis.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600 and json.loads(config.read_text())["api_key"] == service.key
    assert radis("login", "--base-url", service.base, "--api-key", "sk-radis-wrong").returncode == EXIT_AUTH

    bad = tmp_path / "bad.jsonl"
    lines = (service.data / "train.jsonl").read_text().splitlines()
    lines[2] = json.dumps({"source": "Anna kauft Birnen.", "target": "", "src_lang": "de", "tgt_lang": "en"})
    bad.write_text("\n".join(lines) + "\n")
    refused = radis("files", "upload", str(bad))
    assert refused.returncode == EXIT_ERROR and "nothing was uploaded" in refused.stderr
    assert "empty_field" in refused.stderr and "│ 3 " in refused.stderr  # the table names line 3
    assert all(f["filename"] != "bad.jsonl" for f in radis.json("files", "list"))

    created = radis(
        "jobs",
        "create",
        "--model",
        str(service.tiny),
        "--training-file",
        str(service.data / "train.jsonl"),
        "--validation-file",
        str(service.data / "valid.jsonl"),
        "--method",
        "radis",
        "--suffix",
        "cli",
        "--settings",
        json.dumps(SMALL),
        "--hp",
        "n_epochs=1",
        "--watch",
    )
    assert created.returncode == 0, created.stdout + created.stderr
    for shown in ("generating rationales", "training", "evaluating", "loss ", "Rationales ready", "succeeded"):
        assert shown in created.stdout, (shown, created.stdout)
    jobs = radis.json("jobs", "list")
    job = jobs[0]
    assert job["status"] == "succeeded" and job["user_provided_suffix"] == "cli" and job["method"]["type"] == "radis"

    shown = radis.json("jobs", "show", job["id"])
    assert shown["id"] == job["id"] and "bleu" in shown["report"]["translation"]
    table = radis("jobs", "show", job["id"])
    assert "BLEU" in table.stdout and "chrF++" in table.stdout

    follow = radis("jobs", "events", job["id"], "--follow", "--json")
    assert follow.returncode == 0, follow.stderr
    streamed = [json.loads(line) for line in follow.stdout.splitlines()]
    assert [e["data"]["step"] for e in streamed if e["type"] == "metrics" and "step" in (e["data"] or {})] == [1, 2, 3, 4]
    assert [e["id"] for e in streamed] == [e["id"] for e in radis.json("jobs", "events", job["id"])]

    download = radis.json("adapters", "download", job["id"], "--out", str(tmp_path / "adapters"))
    assert download["sha256_verified"] and (Path(download["folder"]) / "adapter_config.json").exists()
    assert job["fine_tuned_model"] in {m["id"] for m in radis.json("models")}

    # Another project's key sees nothing of it.
    other = radis("jobs", "events", job["id"], "--follow", RADIS_API_KEY=service.other_key)
    assert other.returncode == EXIT_ERROR and "HTTP 404" in other.stderr


def test_failed_and_cancelled_jobs_have_their_own_exit_codes(service: Service, tmp_path: Path) -> None:
    radis = Radis(tmp_path)
    radis.env.update(RADIS_BASE_URL=service.base, RADIS_API_KEY=service.key)
    train = radis.json("files", "upload", str(service.data / "train.jsonl"))["id"]

    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "llama"}))  # passes the API's check, cannot load
    failed = radis("jobs", "create", "-m", str(broken), "-t", train, "--method", "supervised", "--watch", "--json")
    assert failed.returncode == EXIT_JOB_FAILED, failed.stdout + failed.stderr
    assert json.loads(failed.stdout)["status"] == "failed"

    long = {
        "hyperparameters": {**SMALL["hyperparameters"], "max_steps": 2000, "checkpoint_every": 1000},
        "evaluation": SMALL["evaluation"],
    }
    job = radis.json(
        "jobs", "create", "-m", str(service.tiny), "-t", train, "--method", "supervised", "--settings", json.dumps(long)
    )
    assert radis.json("jobs", "cancel", job["id"])["status"] in ("cancelled", "running")
    watched = radis("jobs", "watch", job["id"])
    assert watched.returncode == EXIT_JOB_CANCELLED, watched.stdout + watched.stderr
    assert "cancelled" in watched.stdout


def test_global_options_results_files_and_models_commands(service: Service, tmp_path: Path) -> None:
    """``radis --base-url --api-key`` (no login, no environment), ``jobs report|checkpoints|pause|resume``,
    ``files download|delete``, ``models delete``; each with ``--json``."""
    radis = Radis(tmp_path)
    g = ("--base-url", service.base, "--api-key", service.key)
    version = radis("--version")
    assert version.returncode == 0 and version.stdout.startswith("radis ")
    assert radis("--base-url", service.base, "--api-key", "sk-radis-wrong", "files", "list").returncode == EXIT_AUTH

    train_path = service.data / "train.jsonl"
    train = radis.json(*g, "files", "upload", str(train_path))
    settings = {"hyperparameters": SMALL["hyperparameters"], "evaluation": SMALL["evaluation"]}
    created = radis(
        *g, "jobs", "create", "-m", str(service.tiny), "-t", train["id"], "--method", "supervised",
        "--settings", json.dumps(settings), "--watch", "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    job = json.loads(created.stdout)

    report = radis.json(*g, "jobs", "report", job["id"])
    assert "bleu" in report["translation"] and "retention" in report
    assert "BLEU" in radis(*g, "jobs", "report", job["id"]).stdout
    checkpoints = radis.json(*g, "jobs", "checkpoints", job["id"])
    assert checkpoints and all(isinstance(c["metrics"]["train_loss"], float) for c in checkpoints)
    table = radis(*g, "jobs", "checkpoints", job["id"]).stdout
    assert f"ckpt-step-{checkpoints[0]['step_number']}" in table

    downloaded = radis.json(*g, "files", "download", train["id"], "--out", str(tmp_path))
    assert downloaded["sha256_verified"] and Path(downloaded["path"]).read_bytes() == train_path.read_bytes()
    assert Path(downloaded["path"]).parent == tmp_path and downloaded["sha256"] == train["sha256"]

    spare = radis.json(*g, "files", "upload", str(service.data / "valid.jsonl"))
    assert radis.json(*g, "files", "delete", spare["id"]) == {"id": spare["id"], "object": "file", "deleted": True}
    assert spare["id"] not in {f["id"] for f in radis.json(*g, "files", "list")}
    gone = radis(*g, "files", "download", spare["id"], "--out", str(tmp_path))
    assert gone.returncode == EXIT_ERROR and "HTTP 404" in gone.stderr

    finished = radis(*g, "jobs", "pause", job["id"])
    assert finished.returncode == EXIT_ERROR and "HTTP 409" in finished.stderr
    long = {"hyperparameters": {**SMALL["hyperparameters"], "max_steps": 2000, "checkpoint_every": 1000}}
    running = radis.json(
        *g, "jobs", "create", "-m", str(service.tiny), "-t", train["id"], "--method", "supervised", "--settings", json.dumps(long)
    )
    assert radis.json(*g, "jobs", "pause", running["id"])["status"] in ("paused", "running")
    for _ in range(600):  # the worker stops at its next step (or the job was still queued: paused at once)
        if radis.json(*g, "jobs", "show", running["id"])["status"] == "paused":
            break
    assert radis.json(*g, "jobs", "show", running["id"])["status"] == "paused"
    assert radis.json(*g, "jobs", "resume", running["id"])["status"] == "queued"
    assert radis.json(*g, "jobs", "cancel", running["id"])["status"] in ("cancelled", "running", "queued")

    model = job["fine_tuned_model"]
    assert model in {m["id"] for m in radis.json(*g, "models")}
    assert radis.json(*g, "models", "delete", model)["deleted"] is True
    assert model not in {m["id"] for m in radis.json(*g, "models", "list")}
    again = radis(*g, "models", "delete", model)
    assert again.returncode == EXIT_ERROR and "HTTP 404" in again.stderr
