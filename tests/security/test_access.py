"""Who may see what: keys on every route, revocation, the cross-project isolation matrix, downloads
confined to the artifact root, per-project limits, and no secret in an answer or a log line.

The route lists come from the app itself, so a route added later is checked without editing this file;
a route that must be open has to be added to ``OPEN_ROUTES`` on purpose.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store import files as store_files
from store.db import session_scope
from store.keys import create_key, list_keys, revoke_key
from store.models import ApiKey
from tests.api.conftest import Caller, corpus_bytes, make_caller, upload
from tests.api.test_results import SucceededJob
from worker.queue import JobQueue

#: Routes that answer without a key: liveness, readiness, Prometheus metrics, and the API's own
#: description (it holds no data of any project).
OPEN_ROUTES = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """``(method, path template)`` of every operation in the app's OpenAPI document (routes kept out of
    the document on purpose, such as the dashboard's static HTML page, serve no project data)."""
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def fill(path: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: values[m.group(1)], path)


def test_every_route_but_the_operator_ones_needs_a_key(app: FastAPI, client: TestClient) -> None:
    routes = api_routes(app)
    assert any(path == "/v1/files" for _, path in routes)
    placeholder = {"file_id": "file-x", "job_id": "ftjob-x", "model_id": "ft:x", "checkpoint_id": "ftckpt-x"}
    for method, path in routes:
        if path in OPEN_ROUTES:
            continue
        url = fill(path, {**placeholder, **{name: "x" for name in _PARAM.findall(path) if name not in placeholder}})
        for headers in ({}, {"Authorization": "Bearer sk-radis-" + "Z" * 43}):
            response = client.request(method, url, headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.json()["error"]["type"] == "authentication_error"


def test_keys_are_stored_hashed_and_a_revoked_key_stops_at_once(
    client: TestClient, caller: Caller, db_sessionmaker: sessionmaker[Session]
) -> None:
    with session_scope(db_sessionmaker) as session:
        second, _ = create_key(session, caller.project_id, "second key")
        rows = session.scalars(select(ApiKey).where(ApiKey.project_id == caller.project_id)).all()
        for row in rows:
            stored = " ".join(str(getattr(row, column.key)) for column in ApiKey.__table__.columns)
            assert caller.key not in stored and second not in stored
            assert caller.key[len("sk-radis-") :] not in stored
    assert client.get("/v1/files", headers=caller.headers).status_code == 200
    with session_scope(db_sessionmaker) as session:
        first = next(k for k in list_keys(session, caller.project_id) if k.name == "test key")
        revoke_key(session, first.id)
    # The very next request, on the same app and connection pool, is refused; the project's other key still works.
    assert client.get("/v1/files", headers=caller.headers).status_code == 401
    assert client.get("/v1/files", headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_isolation_matrix_every_id_taking_route_is_404_for_another_project(
    app: FastAPI,
    client: TestClient,
    caller: Caller,
    other_caller: Caller,
    training_file: dict[str, Any],
    succeeded_job: SucceededJob,
) -> None:
    upload = client.post(
        "/v1/uploads",
        json={"filename": "big.jsonl", "purpose": "fine-tune", "bytes": 10, "mime_type": "application/jsonl"},
        headers=caller.headers,
    ).json()
    ids = {
        "file_id": training_file["id"],
        "job_id": succeeded_job.id,
        "model_id": succeeded_job.fine_tuned_model,
        "upload_id": upload["id"],
    }
    id_routes = [(m, p) for m, p in api_routes(app) if _PARAM.search(p) and p not in OPEN_ROUTES]
    assert {p for _, p in id_routes} >= {
        "/v1/files/{file_id}",
        "/v1/files/{file_id}/content",
        "/v1/fine_tuning/jobs/{job_id}",
        "/v1/fine_tuning/jobs/{job_id}/events",
        "/v1/fine_tuning/jobs/{job_id}/checkpoints",
        "/v1/fine_tuning/jobs/{job_id}/cancel",
        "/v1/fine_tuning/jobs/{job_id}/adapter",
        "/v1/fine_tuning/jobs/{job_id}/report",
        "/v1/fine_tuning/jobs/{job_id}/rationales",
    }
    checked = []
    for method, path in id_routes:
        names = _PARAM.findall(path)
        assert set(names) <= set(ids), f"{method} {path}: add an object of project A for {names} to the matrix"
        url = fill(path, ids)
        response = client.request(method, url, headers=other_caller.headers)
        assert response.status_code == 404, (method, path, response.status_code, response.text)
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        # The answer does not even confirm that the object exists elsewhere.
        assert "another project" not in error["message"] and caller.project_id not in response.text
        checked.append((method, path))
    # The owner still sees everything (the matrix is not passing because the ids are wrong). Reading
    # routes only, and no endless event stream: a DELETE or a cancel would change what was checked.
    for method, path in checked:
        if method == "GET" and "stream" not in path:
            response = client.get(fill(path, ids), headers=caller.headers)
            assert response.status_code in (200, 206), (path, response.text)
    assert client.get("/v1/files", headers=other_caller.headers).json()["data"] == []
    assert client.get("/v1/fine_tuning/jobs", headers=other_caller.headers).json()["data"] == []
    listed = {m["id"] for m in client.get("/v1/models", headers=other_caller.headers).json()["data"]}
    assert succeeded_job.fine_tuned_model not in listed


def test_stored_names_never_come_from_the_caller(client: TestClient, caller: Caller, api_settings, db_sessionmaker) -> None:
    hostile = "../../../../etc/cron.d/\u202eevil\x00.jsonl"
    response = upload(client, caller, corpus_bytes(), filename=hostile)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "/" not in body["filename"] and "\x00" not in body["filename"] and ".." not in body["filename"].split(".")[0]
    with session_scope(db_sessionmaker) as session:
        row = store_files.get_file(session, caller.project_id, body["id"])
        assert row.storage_key.endswith(body["id"]) and "evil" not in row.storage_key
    root = api_settings.artifacts_root
    stored = [p for p in root.rglob("*") if p.is_file()]
    assert len(stored) == 1 and stored[0].resolve().is_relative_to(root)


@pytest.mark.parametrize("tampered_key", ["../../../../etc/passwd", "/etc/passwd", "files/../../outside", "link-out/passwd"])
def test_downloads_never_leave_the_artifact_root(
    client: TestClient, caller: Caller, db_sessionmaker: sessionmaker[Session], api_settings, tampered_key: str, tmp_path
) -> None:
    """Even with a storage key tampered with in the database (or a symlink planted under the root), the
    content route serves nothing from outside the artifact root."""
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("TOP-SECRET")
    root = api_settings.artifacts_root
    root.mkdir(parents=True, exist_ok=True)
    (root / "link-out").symlink_to(tmp_path)
    (tmp_path / "passwd").write_text("TOP-SECRET")
    response = upload(client, caller, corpus_bytes())
    file_id = response.json()["id"]
    with session_scope(db_sessionmaker) as session:
        store_files.get_file(session, caller.project_id, file_id).storage_key = tampered_key
    answer = client.get(f"/v1/files/{file_id}/content", headers=caller.headers)
    assert answer.status_code in (404, 500), answer.text  # refused, never served
    assert "TOP-SECRET" not in answer.text and "/etc" not in answer.text and str(tmp_path) not in answer.text
    assert answer.json()["error"]["message"]


def test_storage_quota_is_429_with_a_clear_message_and_stores_nothing(
    client: TestClient, db_sessionmaker: sessionmaker[Session], api_settings
) -> None:
    small = make_caller(db_sessionmaker, "tight", max_storage_bytes=1500)
    first = upload(client, small, corpus_bytes(10))
    assert first.status_code == 200, first.text
    blobs_before = sorted(p for p in api_settings.artifacts_root.rglob("*") if p.is_file())
    second = upload(client, small, corpus_bytes(10, start=100))
    assert second.status_code == 429, second.text
    error = second.json()["error"]
    assert error["code"] == "quota_exceeded" and error["type"] == "rate_limit_error"
    assert "1500" in error["message"] and "delete files" in error["message"]
    assert sorted(p for p in api_settings.artifacts_root.rglob("*") if p.is_file()) == blobs_before
    assert len(client.get("/v1/files", headers=small.headers).json()["data"]) == 1


def test_no_key_or_password_in_answers_or_logs(
    app: FastAPI, client: TestClient, caller: Caller, training_file: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A whole session of ordinary and failing requests, every logger at DEBUG: the caller's key, a
    wrong key and the broker's password appear in no answer and in no log line."""
    secret_password = "s3cr3t-broker-pw"
    wrong = "sk-radis-" + "W" * 43

    def failing_enqueue(job_id: str) -> None:
        raise ConnectionError(f"cannot reach redis://:{secret_password}@10.0.0.1:6379/0 for {job_id} with {caller.key}")

    app.state.radis.queue = JobQueue(app.state.radis.session_factory, send=failing_enqueue)
    answers = []
    with caplog.at_level(logging.DEBUG):
        answers.append(client.get("/v1/files", headers={"Authorization": f"Bearer {wrong}"}))
        answers.append(client.get("/v1/files", headers=caller.headers))
        answers.append(upload(client, caller, b"not json\n" * 10))
        answers.append(
            client.post(
                "/v1/fine_tuning/jobs",
                json={"model": "smollm2-135m-instruct", "training_file": training_file["id"]},
                headers=caller.headers,
            )
        )
        answers.append(
            client.post("/v1/fine_tuning/jobs", json={"model": caller.key, "training_file": wrong}, headers=caller.headers)
        )
        answers.append(client.get(f"/v1/files/{caller.key}", headers=caller.headers))
    assert [a.status_code for a in answers] == [401, 200, 400, 200, 400, 404]
    # httpx's own records are the test client's side of the wire (it logs each URL it requests).
    server_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    texts = [a.text for a in answers] + [r.getMessage() for r in server_records]
    assert any("could not enqueue" in r.getMessage() for r in server_records)  # the failure was logged ...
    for text in texts:
        assert secret_password not in text  # ... without the password
        assert caller.key[len("sk-radis-") :] not in text
        assert wrong[len("sk-radis-") :] not in text
