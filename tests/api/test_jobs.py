"""/v1/fine_tuning/jobs: create with validation, idempotency, quota, list, cancel, events, checkpoints, enqueue."""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from store import events as store_events
from store import jobs as store_jobs
from store.db import make_engine, make_sessionmaker, session_scope
from store.models import Job, Project
from store.settings import Settings, get_settings
from tests.api.conftest import Caller, EnqueueRecorder, corpus_bytes, make_caller, upload
from worker.queue import JobQueue

JOBS = "/v1/fine_tuning/jobs"
MODEL = "smollm2-135m-instruct"


def create(client: TestClient, caller: Caller, **body: Any) -> Any:
    return client.post(JOBS, json=body, headers=caller.headers)


def test_create_queues_the_job_and_enqueues_it_after_commit(
    client: TestClient, caller: Caller, training_file: dict, enqueued: EnqueueRecorder, db_sessionmaker: sessionmaker[Session]
) -> None:
    response = create(client, caller, model=MODEL, training_file=training_file["id"], suffix="de-en_v1", metadata={"team": "mt"})
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["object"] == "fine_tuning.job"
    assert job["id"].startswith("ftjob-")
    assert job["status"] == "queued"
    assert job["model"] == MODEL
    assert job["training_file"] == training_file["id"]
    assert job["validation_file"] is None
    assert job["organization_id"] == caller.project_id
    assert job["user_provided_suffix"] == "de-en_v1"
    assert job["metadata"] == {"team": "mt"}
    assert job["method"]["type"] == "radis"
    assert job["method"]["radis"]["hyperparameters"]["n_epochs"] == "auto"
    assert isinstance(job["seed"], int)
    assert job["error"] is None and job["fine_tuned_model"] is None and job["result_files"] == []
    assert job["integrations"] == [] and job["progress"] == 0 and job["stage"] is None
    assert enqueued.job_ids == [job["id"]]
    with session_scope(db_sessionmaker) as session:
        assert store_jobs.get_job(session, caller.project_id, job["id"]).enqueued_at is not None
    assert client.get(f"{JOBS}/{job['id']}", headers=caller.headers).json()["id"] == job["id"]


def test_the_job_is_committed_before_its_message_is_sent(api_settings: Settings, pg_url: str) -> None:
    """At the moment of the send, a connection of its own (a worker's) already reads the job as queued.

    The other tests share one outer connection, where the order of commit and send is invisible: here the
    app commits for real on its own engine and the send looks through another engine."""
    app_engine, worker_engine = make_engine(pg_url), make_engine(pg_url)
    factory, worker_view = make_sessionmaker(app_engine), make_sessionmaker(worker_engine)
    seen: list[tuple[str, str | None]] = []

    def send(job_id: str) -> None:
        with session_scope(worker_view) as session:
            job = session.get(Job, job_id)
            seen.append((job_id, job.status if job is not None else None))

    caller = make_caller(factory, f"commit-order-{secrets.token_hex(4)}")
    try:
        with TestClient(create_app(api_settings, session_factory=factory, enqueue=send)) as client:
            file_id = upload(client, caller, corpus_bytes()).json()["id"]
            response = create(client, caller, model=MODEL, training_file=file_id)
        assert response.status_code == 200, response.text
        assert seen == [(response.json()["id"], "queued")]
        with session_scope(worker_view) as session:
            assert store_jobs.get_job_any(session, response.json()["id"]).enqueued_at is not None
    finally:
        with session_scope(factory) as session:
            session.execute(delete(Project).where(Project.id == caller.project_id))
        app_engine.dispose()
        worker_engine.dispose()


def test_create_stores_method_settings_and_legacy_hyperparameters(
    client: TestClient, caller: Caller, training_file: dict, tiny_model_dir: Path
) -> None:
    method = {
        "type": "supervised",
        "supervised": {"hyperparameters": {"n_epochs": 2, "lora_rank": 8}, "evaluation": {"retention": False}},
    }
    job = create(
        client,
        caller,
        model=str(tiny_model_dir),
        training_file=training_file["id"],
        validation_file=training_file["id"],
        method=method,
        seed=7,
    ).json()
    assert job["model"] == str(tiny_model_dir.resolve())
    assert job["seed"] == 7 and job["validation_file"] == training_file["id"]
    assert job["method"] == {
        "type": "supervised",
        "supervised": {
            "hyperparameters": {"n_epochs": 2, "batch_size": "auto", "learning_rate_multiplier": "auto", "lora_rank": 8},
            "evaluation": {"retention": False},
        },
    }
    legacy = create(
        client,
        caller,
        model=MODEL,
        training_file=training_file["id"],
        hyperparameters={"n_epochs": 3, "learning_rate_multiplier": "auto"},
    ).json()
    assert legacy["method"]["type"] == "radis"
    assert legacy["hyperparameters"]["n_epochs"] == 3


BAD_REQUESTS = [
    ({"model": "gpt-4o"}, "model"),
    ({"training_file": "file-000000000000000000000000"}, "training_file"),
    ({"validation_file": "file-000000000000000000000000"}, "validation_file"),
    ({"suffix": "x" * 65}, "suffix"),
    ({"suffix": "has space"}, "suffix"),
    ({"seed": -1}, "seed"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ({"method": {"type": "radis", "radis": {"hyperparameters": {"batch_size": 0}}}}, "method.radis.hyperparameters.batch_size"),
    (
        {"method": {"type": "radis", "radis": {"hyperparameters": {"batch_size": "many"}}}},
        "method.radis.hyperparameters.batch_size",
    ),
    ({"method": {"type": "radis", "radis": {"hyperparameters": {"lora_rnak": 8}}}}, "method.radis.hyperparameters.lora_rnak"),
    ({"method": {"type": "radis", "radis": {"rationale": {"max_new_tokens": "lots"}}}}, "method.radis.rationale.max_new_tokens"),
    ({"method": {"type": "radis", "radis": {"evaluation": {"bleu": True}}}}, "method.radis.evaluation.bleu"),
    ({"method": {"type": "supervised", "radis": {}}}, "method.radis"),
    ({"method": {"type": "supervised", "supervised": {"rationale": {}}}}, "method.supervised.rationale"),
    ({"method": {"type": "dpo"}}, "method.type"),
    ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs"),
    ({"hyperparameters": {"n_epochs": 1}, "method": {"radis": {"hyperparameters": {}}}}, "hyperparameters"),
    ({"unknown_option": 1}, "unknown_option"),
]


@pytest.mark.parametrize(("change", "param"), BAD_REQUESTS, ids=[p for _, p in BAD_REQUESTS])
def test_invalid_requests_name_the_field_and_create_nothing(
    client: TestClient, caller: Caller, training_file: dict, enqueued: EnqueueRecorder, change: dict, param: str
) -> None:
    body = {"model": MODEL, "training_file": training_file["id"], **change}
    response = client.post(JOBS, json=body, headers=caller.headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert param.rsplit(".", 1)[-1] in error["message"]
    assert enqueued.job_ids == []
    assert client.get(JOBS, headers=caller.headers).json()["data"] == []


def test_another_projects_file_cannot_be_trained_on(
    client: TestClient, caller: Caller, other_caller: Caller, training_file: dict
) -> None:
    response = create(client, other_caller, model=MODEL, training_file=training_file["id"])
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "training_file"


def test_local_models_are_refused_unless_the_deployment_allows_them(
    api_settings: Settings, db_sessionmaker: sessionmaker[Session], caller: Caller, tiny_model_dir: Path
) -> None:
    settings = api_settings.model_copy(update={"allow_local_models": False})
    with TestClient(create_app(settings, session_factory=db_sessionmaker, enqueue=EnqueueRecorder())) as client:
        file_id = upload(client, caller, corpus_bytes()).json()["id"]
        response = create(client, caller, model=str(tiny_model_dir), training_file=file_id)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"


def test_idempotency_key_replays_the_first_job_and_refuses_a_changed_body(
    client: TestClient, caller: Caller, training_file: dict, enqueued: EnqueueRecorder
) -> None:
    body = {"model": MODEL, "training_file": training_file["id"], "suffix": "a"}
    headers = {**caller.headers, "Idempotency-Key": "req-123"}
    first = client.post(JOBS, json=body, headers=headers)
    again = client.post(JOBS, json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert enqueued.job_ids == [first.json()["id"]]
    changed = client.post(JOBS, json={**body, "suffix": "b"}, headers=headers)
    assert changed.status_code == 409
    assert changed.json()["error"]["param"] == "Idempotency-Key"
    assert len(client.get(JOBS, headers=caller.headers).json()["data"]) == 1


def test_active_job_quota_is_429(client: TestClient, db_sessionmaker: sessionmaker[Session]) -> None:
    limited = make_caller(db_sessionmaker, "limited", max_concurrent_jobs=1)
    file_id = upload(client, limited, corpus_bytes()).json()["id"]
    assert create(client, limited, model=MODEL, training_file=file_id).status_code == 200
    refused = create(client, limited, model=MODEL, training_file=file_id)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "quota_exceeded"


def test_list_pages_newest_first_and_filters_by_metadata(client: TestClient, caller: Caller, training_file: dict) -> None:
    ids = [
        create(client, caller, model=MODEL, training_file=training_file["id"], metadata={"team": team}).json()["id"]
        for team in ("a", "b", "a")
    ]
    page = client.get(JOBS, params={"limit": 2}, headers=caller.headers).json()
    assert page["object"] == "list"
    assert [j["id"] for j in page["data"]] == [ids[2], ids[1]] and page["has_more"] is True
    rest = client.get(JOBS, params={"limit": 2, "after": ids[1]}, headers=caller.headers).json()
    assert [j["id"] for j in rest["data"]] == [ids[0]] and rest["has_more"] is False
    team_a = client.get(JOBS, params={"metadata[team]": "a"}, headers=caller.headers).json()
    assert [j["id"] for j in team_a["data"]] == [ids[2], ids[0]]
    assert client.get(JOBS, params={"limit": 0}, headers=caller.headers).json()["error"]["param"] == "limit"


def test_cancel_a_queued_job(client: TestClient, caller: Caller, training_file: dict) -> None:
    job_id = create(client, caller, model=MODEL, training_file=training_file["id"]).json()["id"]
    cancelled = client.post(f"{JOBS}/{job_id}/cancel", headers=caller.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["finished_at"] is not None
    assert client.post(f"{JOBS}/{job_id}/cancel", headers=caller.headers).json()["status"] == "cancelled"
    messages = [e["message"] for e in client.get(f"{JOBS}/{job_id}/events", headers=caller.headers).json()["data"]]
    assert messages[0] == "Job cancelled"


def test_events_page_newest_first(
    client: TestClient, caller: Caller, training_file: dict, db_sessionmaker: sessionmaker[Session]
) -> None:
    job_id = create(client, caller, model=MODEL, training_file=training_file["id"]).json()["id"]
    with session_scope(db_sessionmaker) as session:
        store_events.add_event(session, job_id, "step 1", type="metrics", data={"step": 1, "loss": 2.5})
        store_events.add_event(session, job_id, "careful", level="warn")
    page = client.get(f"{JOBS}/{job_id}/events", params={"limit": 2}, headers=caller.headers).json()
    assert [e["message"] for e in page["data"]] == ["careful", "step 1"] and page["has_more"] is True
    event = page["data"][1]
    assert event["object"] == "fine_tuning.job.event" and event["id"].startswith("ftevent-")
    assert event["type"] == "metrics" and event["data"] == {"step": 1, "loss": 2.5} and event["level"] == "info"
    rest = client.get(f"{JOBS}/{job_id}/events", params={"after": event["id"]}, headers=caller.headers).json()
    assert [e["message"] for e in rest["data"]] == [f"Created fine-tuning job: {job_id}"] and rest["has_more"] is False
    bad = client.get(f"{JOBS}/{job_id}/events", params={"after": "nope"}, headers=caller.headers)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "after"


def test_checkpoints_page_newest_step_first(
    client: TestClient, caller: Caller, training_file: dict, db_sessionmaker: sessionmaker[Session]
) -> None:
    job_id = create(client, caller, model=MODEL, training_file=training_file["id"], suffix="s").json()["id"]
    with session_scope(db_sessionmaker) as session:
        for step in (10, 20, 30):
            store_events.add_checkpoint(
                session, job_id, step, storage_key=f"jobs/{job_id}/ckpt-{step}", metrics={"train_loss": 1.0 / step}
            )
    page = client.get(f"{JOBS}/{job_id}/checkpoints", params={"limit": 2}, headers=caller.headers).json()
    assert [c["step_number"] for c in page["data"]] == [30, 20] and page["has_more"] is True
    checkpoint = page["data"][0]
    assert checkpoint["object"] == "fine_tuning.job.checkpoint"
    assert checkpoint["fine_tuning_job_id"] == job_id
    assert checkpoint["fine_tuned_model_checkpoint"] == f"ft:{MODEL}:s:{job_id}:ckpt-step-30"
    # OpenAI's metric fields, null where the step has none (a real run scores held-out pairs at checkpoints).
    assert checkpoint["metrics"] == {
        "step": 30,
        "train_loss": 1.0 / 30,
        "train_mean_token_accuracy": None,
        "valid_loss": None,
        "valid_mean_token_accuracy": None,
        "full_valid_loss": None,
        "full_valid_mean_token_accuracy": None,
    }
    rest = client.get(f"{JOBS}/{job_id}/checkpoints", params={"after": page["data"][1]["id"]}, headers=caller.headers).json()
    assert [c["step_number"] for c in rest["data"]] == [10]


def test_another_projects_job_is_404(client: TestClient, caller: Caller, other_caller: Caller, training_file: dict) -> None:
    job_id = create(client, caller, model=MODEL, training_file=training_file["id"]).json()["id"]
    for method, path in (("GET", ""), ("POST", "/cancel"), ("GET", "/events"), ("GET", "/checkpoints")):
        response = client.request(method, f"{JOBS}/{job_id}{path}", headers=other_caller.headers)
        assert response.status_code == 404, (method, path)
    assert client.get(JOBS, headers=other_caller.headers).json()["data"] == []
    assert client.get(f"{JOBS}/{job_id}", headers=caller.headers).json()["status"] == "queued"


def test_broker_failure_keeps_the_job_queued_and_logs_no_secret(
    app: Any,
    client: TestClient,
    caller: Caller,
    training_file: dict,
    db_sessionmaker: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(job_id: str) -> None:
        raise ConnectionError("cannot reach redis://:hunter2@broker:6379/0")

    app.state.radis.queue = JobQueue(db_sessionmaker, send=broken)
    with caplog.at_level(logging.WARNING):
        response = create(client, caller, model=MODEL, training_file=training_file["id"])
    assert response.status_code == 200 and response.json()["status"] == "queued"
    with session_scope(db_sessionmaker) as session:
        assert store_jobs.get_job(session, caller.project_id, response.json()["id"]).enqueued_at is None
    assert "reconciler" in caplog.text and "hunter2" not in caplog.text


@pytest.fixture
def env_data_dir(api_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Importing worker.app builds its default Celery app from the environment, creating the data folder:
    point the environment at the test's folder rather than the working directory."""
    monkeypatch.setenv("RADIS_DATA_DIR", str(api_settings.data_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


#: A Redis database of its own, so other test packages' queues are not touched.
REDIS_DB = 11


def test_the_worker_client_puts_the_job_on_the_gpu_queue(
    api_settings: Settings, db_sessionmaker: sessionmaker[Session], redis_url: str, caller: Caller, env_data_dir: None
) -> None:
    broker = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    settings = api_settings.model_copy(update={"broker_url": broker, "result_backend": broker})
    queue = redis.Redis.from_url(broker)
    before = queue.llen("gpu")
    # No enqueue override: the app's JobQueue sends through a Celery app built from its settings.
    with TestClient(create_app(settings, session_factory=db_sessionmaker)) as client:
        file_id = upload(client, caller, corpus_bytes()).json()["id"]
        job_id = create(client, caller, model=MODEL, training_file=file_id).json()["id"]
    try:
        assert queue.llen("gpu") == before + 1
        messages = [json.loads(raw) for raw in queue.lrange("gpu", 0, -1)]
        ours = [m for m in messages if m["headers"].get("task") == "radis.run_job" and job_id in m["headers"].get("argsrepr", "")]
        assert len(ours) == 1
        args = json.loads(base64.b64decode(ours[0]["body"]))[0]
        assert args == [job_id]
    finally:
        for raw in queue.lrange("gpu", 0, -1):
            if job_id.encode() in raw:
                queue.lrem("gpu", 0, raw)
        queue.close()
    with session_scope(db_sessionmaker) as session:
        assert store_jobs.get_job(session, caller.project_id, job_id).enqueued_at is not None
