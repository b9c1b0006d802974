"""Keys (401 envelopes), the open operator endpoints, and how failures are answered (503, 500, 404)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from store.db import session_scope
from store.keys import list_keys, revoke_key
from store.settings import Settings
from tests.api.conftest import Caller, EnqueueRecorder, corpus_bytes, upload


def assert_401(response, code: str) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["type"] == "authentication_error" and error["code"] == code and error["param"] is None


def test_missing_wrong_and_malformed_keys_are_401(client: TestClient, caller: Caller) -> None:
    assert_401(client.get("/v1/files"), "missing_api_key")
    assert_401(client.get("/v1/files", headers={"Authorization": "Basic dXNlcjpwYXNz"}), "missing_api_key")
    wrong = "sk-radis-" + "A" * 43
    response = client.get("/v1/fine_tuning/jobs", headers={"Authorization": f"Bearer {wrong}"})
    assert_401(response, "invalid_api_key")
    assert wrong not in response.text
    assert_401(client.get("/v1/models", headers={"Authorization": "Bearer not-a-radis-key"}), "invalid_api_key")
    assert client.get("/v1/files", headers=caller.headers).status_code == 200


def test_revoked_key_is_401(client: TestClient, caller: Caller, db_sessionmaker: sessionmaker[Session]) -> None:
    with session_scope(db_sessionmaker) as session:
        (key,) = list_keys(session, caller.project_id)
        revoke_key(session, key.id)
    assert_401(client.get("/v1/files", headers=caller.headers), "invalid_api_key")


def test_an_upload_without_a_key_is_refused_before_the_body_is_stored(client: TestClient, api_settings: Settings) -> None:
    response = client.post("/v1/files", files={"file": ("t.jsonl", corpus_bytes())}, data={"purpose": "fine-tune"})
    assert_401(response, "missing_api_key")
    assert not any(p.is_file() for p in api_settings.artifacts_root.rglob("*"))


def test_operator_endpoints_are_open(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")


def test_metrics_count_requests_by_route_and_jobs_by_status(client: TestClient, caller: Caller) -> None:
    file_id = upload(client, caller, corpus_bytes()).json()["id"]
    client.post("/v1/fine_tuning/jobs", json={"model": "smollm2-135m-instruct", "training_file": file_id}, headers=caller.headers)
    client.get(f"/v1/files/{file_id}", headers=caller.headers)
    client.get("/v1/files/file-000000000000000000000000", headers=caller.headers)
    text = client.get("/metrics").text
    assert 'radis_http_requests_total{method="POST",route="/v1/files",status="200"} 1.0' in text
    assert 'radis_http_requests_total{method="GET",route="/v1/files/{file_id}",status="200"} 1.0' in text
    assert 'radis_http_requests_total{method="GET",route="/v1/files/{file_id}",status="404"} 1.0' in text
    assert 'radis_http_request_duration_seconds_count{method="POST",route="/v1/fine_tuning/jobs"} 1.0' in text
    assert 'radis_jobs{status="queued"} 1.0' in text
    assert 'radis_jobs{status="running"} 0.0' in text


def test_readyz_is_503_when_the_broker_is_unreachable(api_settings: Settings, db_sessionmaker: sessionmaker[Session]) -> None:
    settings = api_settings.model_copy(update={"broker_url": "redis://:hunter2@127.0.0.1:1/0"})
    with TestClient(create_app(settings, session_factory=db_sessionmaker, enqueue=EnqueueRecorder())) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("unreachable")
    assert "hunter2" not in response.text


@pytest.fixture
def app_without_database(tmp_path: Path) -> FastAPI:
    # A server database behind a closed port, with a password that must never be shown.
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url="postgresql+psycopg://radis:hunter2@127.0.0.1:1/radis",
        broker_url="redis://127.0.0.1:1/0",
    )
    return create_app(settings, enqueue=EnqueueRecorder())


def test_database_outage_is_503_without_secrets(app_without_database: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), TestClient(app_without_database) as client:
        response = client.get("/v1/files", headers={"Authorization": "Bearer sk-radis-" + "B" * 43})
        ready = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    error = response.json()["error"]
    assert error["code"] == "database_unavailable" and error["type"] == "server_error"
    assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("unreachable")
    for text in (response.text, ready.text, caplog.text):
        assert "hunter2" not in text
        assert "B" * 43 not in text


def test_unexpected_errors_are_a_generic_500_and_logged_scrubbed(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    def explode() -> None:
        raise RuntimeError("exploded with sk-radis-SECRETSECRET and postgresql://u:hunter2@db/x")

    app.add_api_route("/boom", explode)
    with caplog.at_level(logging.ERROR), TestClient(app) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "server_error" and error["code"] == "internal_error"
    assert "exploded" not in response.text
    assert "exploded" in caplog.text  # the details are in the log ...
    assert "SECRETSECRET" not in caplog.text and "hunter2" not in caplog.text  # ... without the secrets
    error_id = error["message"].split("error id ")[1].rstrip(").")
    assert error_id in caplog.text


def test_unknown_urls_and_methods_use_the_envelope(client: TestClient) -> None:
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Unknown request URL: GET /v1/nothing."
    wrong_method = client.put("/healthz")
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()


def test_openapi_schema_builds(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "/v1/fine_tuning/jobs" in schema["paths"]
    assert "/v1/fine_tuning/jobs/{job_id}/adapter" in schema["paths"]
