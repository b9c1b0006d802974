"""The whole service as users run it: a uvicorn API process and a Celery worker process on real
Postgres and Redis, driven over HTTP and through the unmodified ``openai`` package, on the tiny model.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from radis_cli.demo import free_port, stop_process_group, wait_ready
from radis_core.corpus import Pair, write_jsonl
from radis_core.tiny import build_tiny_model
from store.db import make_engine, make_sessionmaker, session_scope
from store.keys import create_key
from store.projects import get_or_create_project
from store.settings import Settings
from tests.worker.celery_harness import celery_worker, log_tail

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
REDIS_DB = 7
SMALL = {
    "hyperparameters": {"batch_size": 4, "n_epochs": 1, "lora_rank": 4, "max_seq_len": 192, "checkpoint_every": 2},
    "rationale": {"max_new_tokens": 16, "min_rationale_share": 0.0},  # the tiny model never finishes one
    "evaluation": {"max_new_tokens": 12, "max_probe_items": 2},
}


def _pairs(n: int, offset: int = 0) -> list[Pair]:
    return [
        Pair(f"Anna kauft {i} Äpfel und {i + 1} Birnen.", f"Anna buys {i} apples and {i + 1} pears.", "de", "en", i + 1)
        for i in range(offset, offset + n)
    ]


class Service:
    """A running API + worker and two projects' keys."""

    def __init__(self, base: str, key: str, other_key: str, tiny: Path, data: Path, log: Path) -> None:
        self.base, self.key, self.other_key, self.tiny, self.data, self.log = base, key, other_key, tiny, data, log

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {key or self.key}"}, timeout=30)


@pytest.fixture(scope="module", name="service")
def service_fixture(make_pg_database, tmp_path_factory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("service")
    broker = f"redis://127.0.0.1:6379/{REDIS_DB}"
    redis.Redis.from_url(broker).flushdb()
    settings = Settings(
        data_dir=tmp / "data",
        database_url=make_pg_database(),
        broker_url=broker,
        result_backend=broker,
        cache_dir=tmp / "cache",
        allow_local_models=True,
        heartbeat_interval_s=1,
        stale_after_s=30,
    )
    with session_scope(make_sessionmaker(make_engine(settings.database_url))) as s:
        key, _ = create_key(s, get_or_create_project(s, "team-a").id, "e2e")
        other_key, _ = create_key(s, get_or_create_project(s, "team-b").id, "e2e")
    tiny = build_tiny_model(tmp / "tiny")
    write_jsonl(_pairs(16), tmp / "train.jsonl")
    write_jsonl(_pairs(8, offset=100), tmp / "valid.jsonl")

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADIS_")}
    env.update(
        RADIS_DATA_DIR=str(settings.data_dir),
        RADIS_DATABASE_URL=settings.database_url,
        RADIS_BROKER_URL=broker,
        RADIS_RESULT_BACKEND=broker,
        RADIS_CACHE_DIR=str(settings.cache_dir),
        RADIS_ALLOW_LOCAL_MODELS="true",
    )
    api_log = tmp / "api.log"
    with open(api_log, "wb") as log:
        api = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, api, timeout=60)
        with celery_worker(settings, tmp / "worker.log"):
            yield Service(base, key, other_key, tiny, tmp, tmp / "worker.log")
    finally:
        stop_process_group(api)


def _upload(c: httpx.Client, path: Path) -> dict[str, Any]:
    r = c.post("/v1/files", files={"file": (path.name, path.read_bytes(), "application/jsonl")}, data={"purpose": "fine-tune"})
    assert r.status_code == 200, r.text
    return r.json()


def _create(c: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    r = c.post("/v1/fine_tuning/jobs", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _wait(c: httpx.Client, job_id: str, statuses: set[str], service: Service, timeout: float = 240) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = c.get(f"/v1/fine_tuning/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {job['status']}:\n{log_tail(service.log)}")


def test_upload_train_progress_download_and_load_adapter(service: Service) -> None:
    c = service.client()
    train, valid = _upload(c, service.data / "train.jsonl"), _upload(c, service.data / "valid.jsonl")
    assert train["status"] == "processed" and len(train["sha256"]) == 64
    body = {
        "model": str(service.tiny),
        "training_file": train["id"],
        "validation_file": valid["id"],
        "suffix": "e2e",
        "method": {"type": "radis", "radis": SMALL},
    }
    job = _create(c, body)
    assert job["status"] == "queued", job
    job = _wait(c, job["id"], {"succeeded", "failed", "cancelled"}, service)
    assert job["status"] == "succeeded", job
    assert job["fine_tuned_model"].startswith("ft:") and job["trained_tokens"] > 0 and len(job["result_files"]) == 4

    events = c.get(f"/v1/fine_tuning/jobs/{job['id']}/events", params={"limit": 100}).json()["data"]
    messages = [e["message"] for e in reversed(events)]
    steps = [e["data"]["step"] for e in reversed(events) if e["type"] == "metrics" and "step" in (e.get("data") or {})]
    assert steps == [1, 2, 3, 4]  # 16 training pairs / batch 4, each step reported once, in order
    assert any("Rationales ready" in m for m in messages) and any("Adapter written" in m for m in messages)
    checkpoints = c.get(f"/v1/fine_tuning/jobs/{job['id']}/checkpoints").json()["data"]
    assert [cp["step_number"] for cp in checkpoints] == [2]
    assert "bleu" in c.get(f"/v1/fine_tuning/jobs/{job['id']}/report").json()["translation"]
    assert job["fine_tuned_model"] in {m["id"] for m in c.get("/v1/models").json()["data"]}

    r = c.get(f"/v1/fine_tuning/jobs/{job['id']}/adapter")
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == r.headers["x-content-sha256"]
    assert int(r.headers["content-length"]) == len(r.content)
    part = c.get(f"/v1/fine_tuning/jobs/{job['id']}/adapter", headers={"Range": "bytes=5-24"})
    assert part.status_code == 206 and part.content == r.content[5:25]
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        tar.extractall(service.data / "dl", filter="data")
    folder = next(p.parent for p in (service.data / "dl").rglob("adapter_config.json"))

    import torch
    from peft import PeftModel

    from radis_core.models import load_model, resolve_model

    base, tok = load_model(resolve_model(str(service.tiny)), device="cpu", dtype="float32")
    tuned = PeftModel.from_pretrained(base, str(folder))
    with torch.no_grad():
        assert torch.isfinite(tuned(input_ids=tok("Hallo", return_tensors="pt")["input_ids"]).logits).all()

    # Another project sees none of it.
    other = service.client(service.other_key)
    for path in (
        f"/v1/fine_tuning/jobs/{job['id']}",
        f"/v1/fine_tuning/jobs/{job['id']}/adapter",
        f"/v1/files/{train['id']}",
        f"/v1/fine_tuning/jobs/{job['id']}/events",
    ):
        assert other.get(path).status_code == 404, path


@pytest.mark.parametrize(
    ("method", "section", "samples_key", "samples_file"),
    [
        ("sdft", {"rewrite": {"max_new_tokens": 12, "min_chrf": 0.0}}, "rewrite", "rewrites.jsonl"),
        ("seqkd", {"teacher": {"max_new_tokens": 12}}, "translation", "teacher_translations.jsonl"),
    ],
)
def test_the_paper_baselines_run_through_the_service(
    service: Service, method: str, section: dict[str, Any], samples_key: str, samples_file: str
) -> None:
    """SDFT and SeqKD go the same way as RaDis: HTTP → Postgres → Redis → Celery worker → result files."""
    c = service.client()
    train = _upload(c, service.data / "train.jsonl")
    settings = {**{k: SMALL[k] for k in ("hyperparameters", "evaluation")}, **section}
    job = _create(c, {"model": str(service.tiny), "training_file": train["id"], "method": {"type": method, method: settings}})
    job = _wait(c, job["id"], {"succeeded", "failed", "cancelled"}, service)
    assert job["status"] == "succeeded", job
    assert job["method"]["type"] == method and job["method"][method]["hyperparameters"]["batch_size"] == 4

    names = [c.get(f"/v1/files/{file_id}").json()["filename"] for file_id in job["result_files"]]
    assert names[-1] == f"{job['id']}-{samples_file}"
    rows = c.get(f"/v1/fine_tuning/jobs/{job['id']}/rationales", params={"limit": 100}).json()["data"]
    assert rows and all(samples_key in r and r["reason"] in (None, "strays", "unfinished", "empty") for r in rows)
    report = c.get(f"/v1/fine_tuning/jobs/{job['id']}/report").json()
    assert report["rationales"]["method"] == method and report["rationales"]["pairs"] == len(rows)
    stages = [
        e["data"]["stage"]
        for e in c.get(f"/v1/fine_tuning/jobs/{job['id']}/events", params={"limit": 100}).json()["data"]
        if set(e.get("data") or {}) == {"stage"}
    ]
    assert "generating_targets" in stages and "generating_rationales" not in stages


def test_cancel_a_running_and_a_queued_job(service: Service) -> None:
    c = service.client()
    train = _upload(c, service.data / "train.jsonl")
    long = {
        "hyperparameters": {**SMALL["hyperparameters"], "max_steps": 2000, "checkpoint_every": 1000},
        "evaluation": SMALL["evaluation"],
    }
    body = {"model": str(service.tiny), "training_file": train["id"], "method": {"type": "supervised", "supervised": long}}
    running = _create(c, body)
    deadline = time.time() + 120
    while c.get(f"/v1/fine_tuning/jobs/{running['id']}").json().get("stage") != "training":
        assert time.time() < deadline, log_tail(service.log)
        time.sleep(0.3)
    queued = _create(c, body)  # the one worker slot is busy: it waits
    assert c.post(f"/v1/fine_tuning/jobs/{queued['id']}/cancel").json()["status"] == "cancelled"
    assert c.post(f"/v1/fine_tuning/jobs/{running['id']}/cancel").status_code == 200
    done = _wait(c, running["id"], {"cancelled", "succeeded", "failed"}, service, timeout=60)
    assert done["status"] == "cancelled" and done["fine_tuned_model"] is None
    assert c.get(f"/v1/fine_tuning/jobs/{queued['id']}").json()["status"] == "cancelled"


def test_unmodified_openai_client(service: Service) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{service.base}/v1", api_key=service.key, max_retries=0)
    with open(service.data / "train.jsonl", "rb") as f:
        train = client.files.create(file=f, purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model=str(service.tiny),
        training_file=train.id,
        suffix="sdk",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 4}}},
        extra_body={"method": {"type": "supervised", "supervised": {k: SMALL[k] for k in ("hyperparameters", "evaluation")}}},
    )
    assert client.fine_tuning.jobs.retrieve(job.id).id == job.id
    assert job.id in [j.id for j in client.fine_tuning.jobs.list(limit=50).data]
    deadline = time.time() + 240
    while (job := client.fine_tuning.jobs.retrieve(job.id)).status not in ("succeeded", "failed", "cancelled"):
        assert time.time() < deadline, log_tail(service.log)
        time.sleep(0.5)
    assert job.status == "succeeded", job.error
    events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
    assert events and all(e.object == "fine_tuning.job.event" for e in events)
    # As OpenAI's: the metrics CSV first (one row per step), the adapter next.
    metrics_csv = client.files.content(job.result_files[0]).text.splitlines()
    assert metrics_csv[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert [int(line.split(",")[0]) for line in metrics_csv[1:]] == list(range(1, len(metrics_csv)))
    adapter = client.files.content(job.result_files[1])
    with tarfile.open(fileobj=io.BytesIO(adapter.content)) as tar:
        assert any(n.endswith("adapter_model.safetensors") for n in tar.getnames())

    again = client.fine_tuning.jobs.create(model=str(service.tiny), training_file=train.id)
    assert client.fine_tuning.jobs.cancel(again.id).status in ("cancelled", "running")
