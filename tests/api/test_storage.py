"""Storage accounting over HTTP (issue 13): the deployment's default quota, files in use, job budgets."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from store.db import session_scope
from store.jobs import get_job
from store.projects import get_project, set_limits
from store.settings import Settings

from .conftest import Caller, EnqueueRecorder, corpus_bytes, make_caller, stored_blobs, upload

JOBS = "/v1/fine_tuning/jobs"


@pytest.fixture
def model() -> str:
    return "smollm2-135m-instruct"


def test_the_default_storage_quota_is_429_naming_the_setting_and_stores_nothing(
    api_settings: Settings, db_sessionmaker: sessionmaker[Session]
) -> None:
    one_file = len(corpus_bytes(10))
    settings = Settings.model_validate({**api_settings.model_dump(), "max_storage_bytes_per_project": one_file + 10})
    caller = make_caller(db_sessionmaker, "small-by-default")
    with TestClient(create_app(settings, session_factory=db_sessionmaker, enqueue=EnqueueRecorder())) as client:
        assert upload(client, caller, corpus_bytes(10)).status_code == 200
        before = stored_blobs(settings)
        refused = upload(client, caller, corpus_bytes(10, start=50))
    assert refused.status_code == 429 and refused.headers["retry-after"]
    error = refused.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert f"the limit (max_storage_bytes_per_project) is {one_file + 10} bytes" in error["message"]
    assert stored_blobs(settings) == before


def test_a_file_a_queued_job_trains_on_is_409_until_the_job_ends(
    client: TestClient, caller: Caller, api_settings: Settings, model: str
) -> None:
    file_id = upload(client, caller, corpus_bytes()).json()["id"]
    job_id = client.post(JOBS, json={"model": model, "training_file": file_id}, headers=caller.headers).json()["id"]

    refused = client.delete(f"/v1/files/{file_id}", headers=caller.headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "file_in_use" and job_id in refused.json()["error"]["message"]
    assert client.get(f"/v1/files/{file_id}/content", headers=caller.headers).status_code == 200  # nothing changed

    assert client.post(f"{JOBS}/{job_id}/cancel", headers=caller.headers).json()["status"] == "cancelled"
    assert client.delete(f"/v1/files/{file_id}", headers=caller.headers).json()["deleted"] is True
    assert stored_blobs(api_settings) == []  # the blob went with the file


def test_a_job_gets_the_projects_wall_time_budget_or_its_own_up_to_the_ceiling(
    client: TestClient, api_settings: Settings, db_sessionmaker: sessionmaker[Session], model: str
) -> None:
    caller = make_caller(db_sessionmaker, "budgeted")
    with session_scope(db_sessionmaker) as session:
        set_limits(session, get_project(session, caller.project_id), job_wall_time_s=900)
    file_id = upload(client, caller, corpus_bytes()).json()["id"]
    default = client.post(JOBS, json={"model": model, "training_file": file_id}, headers=caller.headers).json()["id"]
    own = client.post(JOBS, json={"model": model, "training_file": file_id, "wall_time_budget_s": 60}, headers=caller.headers)
    too_long = client.post(
        JOBS,
        json={"model": model, "training_file": file_id, "wall_time_budget_s": api_settings.max_job_wall_time_s + 1},
        headers=caller.headers,
    )
    assert too_long.status_code == 400 and too_long.json()["error"]["param"] == "wall_time_budget_s"
    assert "max_job_wall_time_s" in too_long.json()["error"]["message"]
    with session_scope(db_sessionmaker) as session:
        assert get_job(session, caller.project_id, default).wall_time_budget_s == 900
        assert get_job(session, caller.project_id, own.json()["id"]).wall_time_budget_s == 60


def test_a_job_gets_the_projects_token_budget_or_its_own_and_bad_budgets_are_400_naming_the_field(
    client: TestClient, api_settings: Settings, db_sessionmaker: sessionmaker[Session], model: str
) -> None:
    caller = make_caller(db_sessionmaker, "token-budgeted")
    with session_scope(db_sessionmaker) as session:
        set_limits(session, get_project(session, caller.project_id), job_token_budget=50_000)
    file_id = upload(client, caller, corpus_bytes()).json()["id"]
    default = client.post(JOBS, json={"model": model, "training_file": file_id}, headers=caller.headers).json()["id"]
    own = client.post(JOBS, json={"model": model, "training_file": file_id, "token_budget": 300}, headers=caller.headers)
    for bad, says in ((api_settings.max_job_token_budget + 1, "max_job_token_budget"), (0, "token_budget")):
        refused = client.post(JOBS, json={"model": model, "training_file": file_id, "token_budget": bad}, headers=caller.headers)
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "token_budget", refused.text
        assert says in refused.json()["error"]["message"]
    listed = client.get(JOBS, headers=caller.headers).json()["data"]
    assert sorted(j["id"] for j in listed) == sorted([default, own.json()["id"]])  # nothing half-stored
    other = make_caller(db_sessionmaker, "token-default")
    other_file = upload(client, other, corpus_bytes()).json()["id"]
    plain = client.post(JOBS, json={"model": model, "training_file": other_file}, headers=other.headers).json()["id"]
    with session_scope(db_sessionmaker) as session:
        assert get_job(session, caller.project_id, default).token_budget == 50_000
        assert get_job(session, caller.project_id, own.json()["id"]).token_budget == 300
        assert get_job(session, other.project_id, plain).token_budget == api_settings.job_token_budget
