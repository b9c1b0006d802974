"""Fault 3: Postgres restarts while a job runs, and is away while the API is asked.

The database is a private cluster (``throwaway_postgres``), never the machine's shared server. A
worker (``process_job`` in a thread of this process) trains a job on the tiny model; the cluster is
stopped in the middle of training (every connection cut) and started again 3 s later. The worker's writes are retried
(``worker.store_writes``, bounded, with backoff) and the job succeeds with every step reported once.
Then the API, pointed at the same cluster, answers 503 ``database_unavailable`` (not 500) while the
server is stopped, and 200 again once it is back.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from api.main import create_app
from radis_core.corpus import write_jsonl
from store.artifacts import ArtifactStore
from store.db import make_engine, make_sessionmaker, session_scope
from store.files import create_file
from store.ids import new_file_id
from store.jobs import create_job
from store.keys import create_key
from store.projects import create_project
from store.settings import Settings
from tests.worker.conftest import TINY_HYPERPARAMETERS, TINY_METHOD_SETTINGS, de_en_pairs, job_events, load_job
from worker.runner import process_job

from .conftest import ThrowawayPostgres, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _steps(factory, job_id: str) -> list[int]:
    return [e.data["step"] for e in job_events(factory, job_id) if e.type == "metrics" and e.data and "train_loss" in e.data]


def load_job_fails(factory, job_id: str) -> bool:
    """True when the database cannot be reached (the outage is real)."""
    try:
        load_job(factory, job_id)
    except OperationalError:
        return True
    return False


def test_a_postgres_restart_mid_job_is_survived_and_the_api_says_503_meanwhile(
    throwaway_postgres: ThrowawayPostgres,
    tiny_model_dir: Path,
    model_cache_dir: Path,
    tmp_path: Path,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = throwaway_postgres.create_database()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        broker_url=redis_url,
        result_backend=redis_url,
        cache_dir=model_cache_dir,
        heartbeat_interval_s=0.5,
        stale_after_s=60,
    )
    factory = make_sessionmaker(make_engine(url))
    artifacts = ArtifactStore(settings.artifacts_root)
    corpus = write_jsonl(de_en_pairs(), tmp_path / "train.jsonl").read_bytes()
    with session_scope(factory) as session:
        project = create_project(session, "pg-restart")
        key, _ = create_key(session, project.id, "k")
        file_id = new_file_id()
        blob = artifacts.save_bytes(corpus, prefix="files", name=file_id)
        create_file(
            session,
            project_id=project.id,
            filename="train.jsonl",
            purpose="fine-tune",
            nbytes=blob.bytes,
            sha256=blob.sha256,
            storage_key=blob.key,
            file_id=file_id,
        )
        job, _ = create_job(
            session,
            project_id=project.id,
            model=str(tiny_model_dir),
            training_file_id=file_id,
            method="supervised",
            seed=7,
            hyperparameters={**TINY_HYPERPARAMETERS, "n_epochs": 3},
            # supervised takes no rationale section (the settings contract refuses sections a method does not take)
            method_settings={"evaluation": {**TINY_METHOD_SETTINGS["evaluation"], "retention": False}},
        )
        job_id = job.id

    outcome: dict[str, str] = {}
    worker = threading.Thread(
        target=lambda: outcome.update(
            result=process_job(factory, artifacts, settings, job_id, f"w-{secrets.token_hex(2)}", cancel_poll_s=0.1)
        ),
        daemon=True,
    )
    worker.start()
    wait_for(lambda: _steps(factory, job_id), 180, "the first training step")
    with caplog.at_level(logging.WARNING, logger="worker"):
        # Every connection of the worker is cut mid-training, and the server stays away for a few
        # heartbeats: a plain restart would be hidden by the pool's pre-ping, an outage is not.
        throwaway_postgres.stop()
        time.sleep(3)
        assert load_job_fails(factory, job_id)
        throwaway_postgres.start()
        worker.join(timeout=240)
    assert "transient database error" in caplog.text, caplog.text
    assert outcome.get("result") == "succeeded", (outcome, load_job(factory, job_id).error_message)
    job = load_job(factory, job_id)
    assert job.status == "succeeded" and job.error_code is None
    assert _steps(factory, job_id) == list(range(1, job.resolved_hyperparameters["max_steps"] + 1))

    app = create_app(settings, enqueue=lambda job_id: None)
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        assert client.get("/v1/files", headers=headers).status_code == 200
        throwaway_postgres.stop()
        try:
            for path in ("/v1/files", f"/v1/fine_tuning/jobs/{job_id}", "/v1/fine_tuning/jobs"):
                away = client.get(path, headers=headers)
                assert away.status_code == 503, (path, away.text)
                error = away.json()["error"]
                assert error["code"] == "database_unavailable" and away.headers["retry-after"]
                assert "postgres@" not in away.text and str(throwaway_postgres.port) not in away.text
            assert client.get("/readyz").status_code == 503
            assert client.get("/healthz").status_code == 200
        finally:
            throwaway_postgres.start()
        back = client.get(f"/v1/fine_tuning/jobs/{job_id}", headers=headers)
        assert back.status_code == 200 and back.json()["status"] == "succeeded"
