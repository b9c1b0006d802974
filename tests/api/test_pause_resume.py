"""``POST /v1/fine_tuning/jobs/{id}/pause`` and ``/resume`` over the API (the store's transitions behind
them; the worker's side, with the tiny model: tests/worker/test_pause.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from store import jobs as store_jobs
from store.db import session_scope
from tests.api.conftest import Caller, EnqueueRecorder

JOBS = "/v1/fine_tuning/jobs"
MODEL = "smollm2-135m-instruct"


def _create(client: TestClient, caller: Caller, training_file: dict) -> str:
    response = client.post(JOBS, json={"model": MODEL, "training_file": training_file["id"]}, headers=caller.headers)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def _messages(client: TestClient, caller: Caller, job_id: str) -> list[str]:
    return [e["message"] for e in client.get(f"{JOBS}/{job_id}/events", headers=caller.headers).json()["data"]]


def test_a_queued_job_pauses_at_once_and_resume_queues_it_again(
    client: TestClient, caller: Caller, training_file: dict, enqueued: EnqueueRecorder
) -> None:
    job_id = _create(client, caller, training_file)
    paused = client.post(f"{JOBS}/{job_id}/pause", headers=caller.headers)
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert client.post(f"{JOBS}/{job_id}/pause", headers=caller.headers).json()["status"] == "paused"  # idempotent
    assert _messages(client, caller, job_id)[0] == "Job paused"

    resumed = client.post(f"{JOBS}/{job_id}/resume", headers=caller.headers)
    assert resumed.status_code == 200 and resumed.json()["status"] == "queued"
    assert enqueued.job_ids == [job_id, job_id]  # sent again on resume, for any worker to claim
    assert client.post(f"{JOBS}/{job_id}/resume", headers=caller.headers).json()["status"] == "queued"
    assert enqueued.job_ids == [job_id, job_id]  # a queued job is not sent twice


def test_a_running_job_is_asked_to_pause_and_the_worker_marks_it_paused(
    client: TestClient, caller: Caller, training_file: dict, db_sessionmaker: sessionmaker[Session], enqueued: EnqueueRecorder
) -> None:
    job_id = _create(client, caller, training_file)
    with session_scope(db_sessionmaker) as session:
        assert store_jobs.claim_job(session, job_id, "w1") is not None
    asked = client.post(f"{JOBS}/{job_id}/pause", headers=caller.headers).json()
    assert asked["status"] == "running"  # until the worker reaches its next step
    with session_scope(db_sessionmaker) as session:
        assert store_jobs.heartbeat_requests(session, job_id, "w1") == (False, True)
        store_jobs.mark_paused(session, job_id, "w1")
    job = client.get(f"{JOBS}/{job_id}", headers=caller.headers).json()
    assert job["status"] == "paused"
    assert client.post(f"{JOBS}/{job_id}/resume", headers=caller.headers).json()["status"] == "queued"
    with session_scope(db_sessionmaker) as session:
        again = store_jobs.claim_job(session, job_id, "w2")  # any worker
        assert again is not None and again.attempts == 1 and not again.pause_requested  # a pause is no failed attempt


def test_resume_before_the_pause_took_effect_withdraws_it(
    client: TestClient, caller: Caller, training_file: dict, db_sessionmaker: sessionmaker[Session]
) -> None:
    job_id = _create(client, caller, training_file)
    with session_scope(db_sessionmaker) as session:
        store_jobs.claim_job(session, job_id, "w1")
    client.post(f"{JOBS}/{job_id}/pause", headers=caller.headers)
    assert client.post(f"{JOBS}/{job_id}/resume", headers=caller.headers).json()["status"] == "running"
    with session_scope(db_sessionmaker) as session:
        assert store_jobs.heartbeat_requests(session, job_id, "w1") == (False, False)
    assert _messages(client, caller, job_id)[0] == "Pause withdrawn; the job keeps running"


def test_a_paused_job_can_be_cancelled_and_a_finished_one_neither_pauses_nor_resumes(
    client: TestClient, caller: Caller, other_caller: Caller, training_file: dict
) -> None:
    job_id = _create(client, caller, training_file)
    for action in ("pause", "resume"):
        assert client.post(f"{JOBS}/{job_id}/{action}", headers=other_caller.headers).status_code == 404
    client.post(f"{JOBS}/{job_id}/pause", headers=caller.headers)
    assert client.post(f"{JOBS}/{job_id}/cancel", headers=caller.headers).json()["status"] == "cancelled"
    for action in ("pause", "resume"):
        refused = client.post(f"{JOBS}/{job_id}/{action}", headers=caller.headers)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "invalid_state"
        assert "cancelled" in refused.json()["error"]["message"]
