"""The hostile-input corpus (``tests/hostile/corpus``): every input is refused with a 4xx in OpenAI's
error envelope that names the line or field, never a 5xx, and leaves nothing half-stored.

Three kinds of case, all data files:

- ``corpus/uploads/*``: uploaded as a fine-tune file (the file name is the upload's name, so the
  extension picks the format); ``expected.json`` gives the status, the problem code and the line the
  message must name.
- ``corpus/jobs/*.json``: the raw body of ``POST /v1/fine_tuning/jobs`` (``$TRAINING_FILE`` and
  ``$OTHER_FILE`` become a processed file of the caller's and of another project); ``expected.json``
  gives the status, code and ``param``.
- ``corpus/requests.json``: whole requests (method, path, headers, body) for content types, form
  framing, query parameters, path-like ids, event cursors past 64 bits, an empty ``Idempotency-Key``,
  a JSON body over 1 MiB (``$HUGE``) and headers over 32 KiB (``$HUGE_HEADER``).

After each case the project has exactly the rows and blobs it had before.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.models import File, Job
from store.settings import Settings
from tests.api.conftest import Caller, corpus_bytes, upload

from .conftest import HOSTILE_MAX_UPLOAD_BYTES

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, Any]] = {
    name: value for name, value in json.loads((CORPUS / "expected.json").read_text()).items() if not name.startswith("_")
}
REQUESTS: list[dict[str, Any]] = json.loads((CORPUS / "requests.json").read_text())
UPLOAD_CASES = sorted(p.name for p in (CORPUS / "uploads").iterdir())
JOB_CASES = sorted(p.name for p in (CORPUS / "jobs").iterdir())
#: A value longer than every bounded header or form field.
LONG = "x" * 5000
#: A value that makes a JSON body larger than its 1 MiB limit.
HUGE = "x" * (2 << 20)
#: A header value larger than the 32 KiB that all headers may take together.
HUGE_HEADER = "x" * (40 << 10)


def test_the_corpus_has_at_least_40_cases_and_each_has_an_expectation() -> None:
    files = {f"uploads/{name}" for name in UPLOAD_CASES} | {f"jobs/{name}" for name in JOB_CASES}
    assert files == set(EXPECTED), "every corpus file needs an entry in expected.json and vice versa"
    assert len(files) + len(REQUESTS) >= 40
    assert len({case["name"] for case in REQUESTS}) == len(REQUESTS)


@pytest.fixture
def other_file(client: TestClient, other_caller: Caller) -> dict[str, Any]:
    response = upload(client, other_caller, corpus_bytes(start=500))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def queued_job(client: TestClient, caller: Caller, training_file: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/v1/fine_tuning/jobs",
        json={"model": "smollm2-135m-instruct", "training_file": training_file["id"]},
        headers=caller.headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


class Snapshot:
    """The rows and blobs that a refused request must leave exactly as they were."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        self.factory, self.settings = factory, settings

    def take(self) -> tuple[int, int, list[str]]:
        with self.factory() as session:
            files = session.scalar(select(func.count()).select_from(File))
            jobs = session.scalar(select(func.count()).select_from(Job))
        root = self.settings.artifacts_root
        blobs = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []
        return files, jobs, blobs


@pytest.fixture
def snapshot(db_sessionmaker: sessionmaker[Session], api_settings: Settings) -> Snapshot:
    return Snapshot(db_sessionmaker, api_settings)


def assert_refused(response: httpx.Response, status: int, code: str | None, param: Any = ...) -> dict[str, Any]:
    """A ``status`` answer in OpenAI's envelope with ``code`` (and ``param`` when given); returns the error."""
    assert response.status_code < 500, response.text
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"message", "type", "param", "code"} <= set(error), error
    assert error["type"] == "invalid_request_error" and error["message"], error
    assert error["code"] == code, error
    if param is not ...:
        assert error["param"] == param, error
    return error


@pytest.mark.parametrize("name", UPLOAD_CASES)
def test_hostile_upload_is_refused_naming_the_line(name: str, client: TestClient, caller: Caller, snapshot: Snapshot) -> None:
    expected = EXPECTED[f"uploads/{name}"]
    before = snapshot.take()
    response = upload(client, caller, (CORPUS / "uploads" / name).read_bytes(), filename=name)
    error = assert_refused(response, expected["status"], expected["code"], "file")
    if expected["line"] is not None:
        assert re.search(rf"\bline {expected['line']}\b", error["message"]), error["message"]
    assert snapshot.take() == before


@pytest.mark.parametrize("name", JOB_CASES)
def test_hostile_job_request_is_refused_naming_the_field(
    name: str,
    client: TestClient,
    caller: Caller,
    training_file: dict[str, Any],
    other_file: dict[str, Any],
    snapshot: Snapshot,
    enqueued,
) -> None:
    expected = EXPECTED[f"jobs/{name}"]
    body = (CORPUS / "jobs" / name).read_text()
    body = body.replace("$TRAINING_FILE", training_file["id"]).replace("$OTHER_FILE", other_file["id"])
    before = snapshot.take()
    response = client.post(
        "/v1/fine_tuning/jobs", content=body.encode(), headers={**caller.headers, "content-type": "application/json"}
    )
    error = assert_refused(response, expected["status"], expected["code"], expected["param"])
    if expected["param"]:
        assert expected["param"].split(".")[-1] in error["message"], error
    assert snapshot.take() == before
    assert enqueued.job_ids == []


@pytest.mark.parametrize("case", REQUESTS, ids=[case["name"] for case in REQUESTS])
def test_hostile_request_is_refused(
    case: dict[str, Any],
    client: TestClient,
    caller: Caller,
    training_file: dict[str, Any],
    queued_job: dict[str, Any],
    snapshot: Snapshot,
) -> None:
    def fill(text: str) -> str:
        text = text.replace("$TRAINING_FILE", training_file["id"]).replace("$JOB", queued_job["id"])
        return text.replace("$HUGE_HEADER", HUGE_HEADER).replace("$HUGE", HUGE).replace("$LONG", LONG)

    headers = {**caller.headers, **{k: fill(v) for k, v in case["headers"].items()}}
    before = snapshot.take()
    # httpx adds no content type to raw bytes; an absent one stays absent.
    response = client.request(case["method"], fill(case["path"]), content=fill(case["body"]).encode(), headers=headers)
    expected = case["expect"]
    error = assert_refused(response, expected["status"], expected["code"], expected["param"])
    assert expected["says"] in error["message"], error
    assert snapshot.take() == before


def test_a_2gb_line_is_cut_at_the_upload_limit_without_reading_it_all(
    app: FastAPI, client: TestClient, caller: Caller, snapshot: Snapshot
) -> None:
    """Declared honestly it is refused from Content-Length before a byte is read; streamed without a
    length (straight to the ASGI app: TestClient would drain the whole body first), the app stops
    asking for body chunks at the limit."""
    before = snapshot.take()
    declared = client.post(
        "/v1/files",
        content=b"",
        headers={**caller.headers, "content-type": "multipart/form-data; boundary=zz", "content-length": str(2 << 30)},
    )
    assert_refused(declared, 413, "file_too_large", "file")

    head = (
        b'--zz\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
        b'--zz\r\nContent-Disposition: form-data; name="file"; filename="line.jsonl"\r\n\r\n{"source": "'
    )
    chunk, total = 1 << 20, 2 << 30
    produced = 0

    async def receive() -> dict[str, Any]:
        nonlocal produced
        body = head if produced == 0 else b"a" * chunk
        produced += len(body)
        return {"type": "http.request", "body": body, "more_body": produced < total}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/files",
        "raw_path": b"/v1/files",
        "root_path": "",
        "query_string": b"",
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "headers": [
            (b"authorization", caller.headers["Authorization"].encode()),
            (b"content-type", b"multipart/form-data; boundary=zz"),
        ],
    }
    anyio.run(app, scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))
    assert status == 413 and body["error"]["code"] == "file_too_large" and body["error"]["param"] == "file", body
    assert str(HOSTILE_MAX_UPLOAD_BYTES) in body["error"]["message"]
    assert produced <= HOSTILE_MAX_UPLOAD_BYTES + 2 * chunk, f"the app read {produced} bytes of a body it had refused"
    assert snapshot.take() == before
