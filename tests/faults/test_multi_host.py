"""Hosts that share nothing but Postgres, Redis and a bucket (issue 14).

The API and two Celery workers run as separate processes, each with its own data, cache and temporary
folders (``RADIS_DATA_DIR``, ``RADIS_CACHE_DIR``, ``TMPDIR``); the artifacts live in an S3 bucket on
moto's server (tests/s3_server.py). A file is uploaded through the API, a job trains on the first worker,
which is SIGKILLed after a checkpoint; the second worker, sent the job by the reconciler once its
heartbeat is stale, restores the checkpoint from the bucket (it never saw the first worker's folder),
resumes and finishes; the adapter downloads through the API, whole and by Range, with its SHA-256.
Only the tiny model's folder is read by both workers, as a model baked into each host's image would be.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from radis_cli.demo import free_port, stop_process_group, wait_ready
from radis_core.corpus import write_jsonl
from store.db import make_engine, make_sessionmaker, session_scope
from store.keys import create_key
from store.projects import get_or_create_project
from store.settings import Settings
from tests.s3_server import Bucket, s3_bucket_fixture, s3_endpoint_fixture, s3_env  # noqa: F401 - fixtures
from tests.worker.celery_harness import log_tail
from tests.worker.conftest import TINY_HYPERPARAMETERS, de_en_pairs, tiny_model_dir  # noqa: F401 - fixture
from tests.worker.test_celery_worker import redis_db_url  # noqa: F401 - fixture
from worker.queue import JobQueue
from worker.reconciler import reconcile_once

from .conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[2]
STALE_AFTER_S = 3.0


class Host:
    """One process's private folders and environment (a machine of its own, as far as the disk goes)."""

    def __init__(self, root: Path, shared: dict[str, str]) -> None:
        self.root = root
        for name in ("data", "cache", "tmp"):
            (root / name).mkdir(parents=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("RADIS_", "AWS_"))}
        self.env.update(shared)
        self.env.update(
            RADIS_DATA_DIR=str(root / "data"),
            RADIS_CACHE_DIR=str(root / "cache"),
            TMPDIR=str(root / "tmp"),
            OMP_NUM_THREADS="1",
        )
        self.log = root / "process.log"

    def files(self) -> list[Path]:
        return [p for p in (self.root / "data").rglob("*") if p.is_file()]


@contextmanager
def started(host: Host, command: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    with host.log.open("ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=host.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        stop_process_group(process)


def celery(name: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-Q", "gpu", "-c", "1", "--pool", "prefork"] + [
        "--loglevel",
        "INFO",
        "--hostname",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def training_steps(client: httpx.Client, job_id: str) -> list[int]:
    events = client.get(f"/v1/fine_tuning/jobs/{job_id}/events", params={"limit": 100}).json()["data"]
    return [e["data"]["step"] for e in events if e["type"] == "metrics" and "step" in (e.get("data") or {})]


def test_two_worker_hosts_and_an_api_share_only_postgres_redis_and_the_bucket(
    make_pg_database: Callable[..., str],
    redis_db_url: str,  # noqa: F811 - fixture
    s3_bucket: Bucket,
    tiny_model_dir: Path,  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    database_url = make_pg_database()
    shared = {
        **s3_env(s3_bucket.endpoint),
        "RADIS_DATABASE_URL": database_url,
        "RADIS_BROKER_URL": redis_db_url,
        "RADIS_RESULT_BACKEND": redis_db_url,
        "RADIS_ARTIFACT_URL": s3_bucket.url,
        "RADIS_ALLOW_LOCAL_MODELS": "true",
        "RADIS_HEARTBEAT_INTERVAL_S": "0.5",
        "RADIS_STALE_AFTER_S": str(STALE_AFTER_S),
        "RADIS_WORKER_METRICS_PORT": "0",
    }
    api_host, first, second = (
        Host(tmp_path / "api", shared),
        Host(tmp_path / "worker-a", shared),
        Host(tmp_path / "worker-b", shared),
    )
    factory = make_sessionmaker(make_engine(database_url))
    with session_scope(factory) as session:
        key, _ = create_key(session, get_or_create_project(session, "multi-host").id, "test")
    corpus = write_jsonl(de_en_pairs(16), tmp_path / "train.jsonl").read_bytes()

    port = free_port()
    api_command = [
        sys.executable,
        "-m",
        "uvicorn",
        "api.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with started(api_host, api_command) as api:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, api, timeout=60)
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        uploaded = client.post(
            "/v1/files", files={"file": ("train.jsonl", corpus, "application/jsonl")}, data={"purpose": "fine-tune"}
        )
        assert uploaded.status_code == 200, uploaded.text + log_tail(api_host.log)
        assert uploaded.json()["sha256"] == hashlib.sha256(corpus).hexdigest()
        body: dict[str, Any] = {
            "model": str(tiny_model_dir),
            "training_file": uploaded.json()["id"],
            "method": {
                "type": "supervised",
                "supervised": {
                    # 12 training pairs, batch 4, 3 epochs: 9 steps, a checkpoint every 2.
                    "hyperparameters": {**TINY_HYPERPARAMETERS, "n_epochs": 3, "checkpoint_every": 2, "keep_checkpoints": 2},
                    "evaluation": {"retention": False, "max_new_tokens": 8, "holdout_fraction": 0.25, "batch_size": 8},
                },
            },
        }
        created = client.post("/v1/fine_tuning/jobs", json=body)
        assert created.status_code == 200, created.text
        job_id = created.json()["id"]

        with started(first, celery("worker-a")) as worker_a:
            # SIGKILL after the step-2 checkpoint was recorded (so it is in the bucket) and step 3 began.
            wait_for(lambda: any(step >= 3 for step in training_steps(client, job_id)), 180, "step 3 on worker A")
            os.killpg(worker_a.pid, signal.SIGKILL)
            worker_a.wait(10)
        assert client.get(f"/v1/fine_tuning/jobs/{job_id}").json()["status"] == "running"
        assert client.get(f"/v1/fine_tuning/jobs/{job_id}/checkpoints").json()["data"]
        assert any("/work/checkpoints/step-" in k and k.endswith("/state.pt") for k in s3_bucket.object_keys())

        with started(second, celery("worker-b")) as worker_b:
            time.sleep(STALE_AFTER_S + 0.5)  # the job's heartbeat must be stale before a take-over
            settings = Settings(
                data_dir=tmp_path / "ops" / "data",
                database_url=database_url,
                broker_url=redis_db_url,
                result_backend=redis_db_url,
                artifact_url=s3_bucket.url,
                heartbeat_interval_s=0.5,
                stale_after_s=STALE_AFTER_S,
            )
            assert reconcile_once(factory, settings, JobQueue(factory, settings))["stale"] == 1

            def finished() -> dict[str, Any] | None:
                assert worker_b.poll() is None, log_tail(second.log)
                job = client.get(f"/v1/fine_tuning/jobs/{job_id}").json()
                return job if job["status"] in ("succeeded", "failed", "cancelled") else None

            job = wait_for(finished, 180, "the job on worker B")
        assert job["status"] == "succeeded", f"{job}\n{log_tail(second.log)}"

        events = client.get(f"/v1/fine_tuning/jobs/{job_id}/events", params={"limit": 100}).json()["data"]
        resumed = [e["message"] for e in events if e["message"].startswith("Resumed from checkpoint at step")]
        assert len(resumed) == 1, [e["message"] for e in events]
        assert "checkpoint(s) restored from s3://" in second.log.read_text(errors="replace")
        assert sorted(set(training_steps(client, job_id))) == list(range(1, 10))

        adapter = client.get(f"/v1/fine_tuning/jobs/{job_id}/adapter")
        assert adapter.status_code == 200
        digest = hashlib.sha256(adapter.content).hexdigest()
        assert digest == adapter.headers["x-content-sha256"]
        part = client.get(f"/v1/fine_tuning/jobs/{job_id}/adapter", headers={"Range": "bytes=10-2000"})
        assert part.status_code == 206 and part.content == adapter.content[10:2001]
        # The archive the API served is an object in the bucket (one of the job's result files).
        stored = {
            hashlib.sha256(s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=key)["Body"].read()).hexdigest()
            for key in s3_bucket.object_keys()
            if any(key.endswith(f"/{file_id}") for file_id in job["result_files"])
        }
        assert len(stored) == len(job["result_files"]) and digest in stored

    # Nothing of the job stayed on a host's disk: the API kept no blob, the workers' job folders are gone
    # (the finished job's from worker B by its cleanup; worker A's holds only what it had when it died).
    assert api_host.files() == []
    assert not (second.root / "data" / "artifacts" / "jobs" / job_id).exists()
    assert not [k for k in s3_bucket.object_keys() if "/jobs/" in k]
