"""Issue 13's smaller HTTP faults: Range per RFC 9110, HEAD on downloads, bounded event cursors, an
empty Idempotency-Key, Retry-After on every 429, security headers, no CDN-loaded docs pages, list
answers bounded in bytes, JSON bodies bounded while read, and the per-key token bucket."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api import cursors
from api.admission import UploadSlots
from api.rate_limits import RateLimiter
from tests.api.conftest import Caller, corpus_bytes, make_caller, upload

MODEL = "smollm2-135m-instruct"
JOBS = "/v1/fine_tuning/jobs"


@pytest.fixture
def stored(client: TestClient, caller: Caller) -> dict[str, Any]:
    response = upload(client, caller, corpus_bytes())
    assert response.status_code == 200, response.text
    return response.json()


def _content(client: TestClient, caller: Caller, file_id: str, range_: str | None, method: str = "GET"):
    headers = {**caller.headers, **({"Range": range_} if range_ is not None else {})}
    return client.request(method, f"/v1/files/{file_id}/content", headers=headers)


@pytest.mark.parametrize("range_", ["Bytes=2-5", "BYTES=2-5", "bytes = 2-5"])
def test_the_range_unit_is_case_insensitive(client: TestClient, caller: Caller, stored: dict[str, Any], range_: str) -> None:
    response = _content(client, caller, stored["id"], range_)
    assert response.status_code == 206, response.text
    assert response.headers["content-range"] == f"bytes 2-5/{stored['bytes']}"
    assert response.content == corpus_bytes()[2:6]


@pytest.mark.parametrize("range_", ["items=0-3", "bytes=0-1,4-5", "bytes=abc", "bytes=5-2", "bytes=-", "bytes"])
def test_an_unsupported_or_invalid_range_is_ignored_with_the_whole_file(
    client: TestClient, caller: Caller, stored: dict[str, Any], range_: str
) -> None:
    response = _content(client, caller, stored["id"], range_)
    assert response.status_code == 200, response.text
    assert response.content == corpus_bytes()
    assert "content-range" not in response.headers


@pytest.mark.parametrize("range_", ["bytes=100000-", "bytes=-0", "bytes=100000-100001"])
def test_a_valid_range_outside_the_file_is_416(client: TestClient, caller: Caller, stored: dict[str, Any], range_: str) -> None:
    response = _content(client, caller, stored["id"], range_)
    assert response.status_code == 416, response.text
    assert response.headers["content-range"] == f"bytes */{stored['bytes']}"
    assert response.json()["error"]["code"] == "range_not_satisfiable"


def test_head_on_a_download_answers_its_headers_without_the_bytes(
    client: TestClient, caller: Caller, stored: dict[str, Any]
) -> None:
    whole = _content(client, caller, stored["id"], None, "HEAD")
    assert whole.status_code == 200 and whole.content == b""
    assert int(whole.headers["content-length"]) == stored["bytes"]
    assert whole.headers["etag"] == f'"{stored["sha256"]}"' and whole.headers["accept-ranges"] == "bytes"
    part = _content(client, caller, stored["id"], "bytes=0-9", "HEAD")
    assert part.status_code == 206 and part.content == b"" and part.headers["content-length"] == "10"
    assert _content(client, Caller(caller.project_id, "sk-radis-wrong"), stored["id"], None, "HEAD").status_code == 401


def _job(client: TestClient, caller: Caller, file_id: str, **extra: Any) -> dict[str, Any]:
    response = client.post(JOBS, json={"model": MODEL, "training_file": file_id, **extra}, headers=caller.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_event_cursors_past_64_bits_are_400_not_500(client: TestClient, caller: Caller, stored: dict[str, Any]) -> None:
    job = _job(client, caller, stored["id"])
    huge = "ftevent-99999999999999999999"
    listed = client.get(f"{JOBS}/{job['id']}/events", params={"after": huge}, headers=caller.headers)
    assert listed.status_code == 400 and listed.json()["error"]["param"] == "after", listed.text
    streamed = client.get(f"{JOBS}/{job['id']}/events/stream", headers={**caller.headers, "Last-Event-ID": huge})
    assert streamed.status_code == 400 and streamed.json()["error"]["param"] == "Last-Event-ID", streamed.text
    largest = client.get(f"{JOBS}/{job['id']}/events", params={"after": f"ftevent-{2**63 - 1}"}, headers=caller.headers)
    assert largest.status_code == 200  # newest first: every event is older than the largest cursor


def test_an_empty_idempotency_key_is_400(client: TestClient, caller: Caller, stored: dict[str, Any], enqueued) -> None:
    response = client.post(
        JOBS, json={"model": MODEL, "training_file": stored["id"]}, headers={**caller.headers, "Idempotency-Key": ""}
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "Idempotency-Key", response.text
    assert enqueued.job_ids == []


def test_every_429_carries_retry_after(client: TestClient, db_sessionmaker: sessionmaker[Session]) -> None:
    limited = make_caller(db_sessionmaker, "one-job", max_concurrent_jobs=1)
    file_id = upload(client, limited, corpus_bytes()).json()["id"]
    _job(client, limited, file_id)
    refused = client.post(JOBS, json={"model": MODEL, "training_file": file_id}, headers=limited.headers)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/static/app.js", "/v1/models", "/healthz", "/v1/nothing"])
def test_security_headers_on_every_answer(client: TestClient, caller: Caller, path: str) -> None:
    response = client.get(path, headers=caller.headers)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    if path.startswith("/dashboard"):
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "http" not in policy
    else:
        assert policy.startswith("default-src 'none'")


def test_the_docs_page_loads_only_local_files_and_the_openapi_document_stays(client: TestClient) -> None:
    """Swagger UI from the fastapi-offline wheel (api/routes/docs.py): no CDN, no inline script."""
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert "<script>" not in page.text  # every script is a file: the policy has no 'unsafe-inline'
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "http" not in policy
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200 and len(asset.content) > 100, source
    assert 'url: "/openapi.json"' in client.get("/docs/init.js").text and "validatorUrl: null" in client.get("/docs/init.js").text
    assert client.get("/redoc").status_code == 404  # ReDoc injects inline styles the policy refuses
    assert client.get("/openapi.json").json()["info"]["title"]


def test_a_job_list_stops_before_its_byte_budget(
    client: TestClient, caller: Caller, stored: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [_job(client, caller, stored["id"], metadata={"n": str(i)})["id"] for i in range(3)]
    newest = client.get(JOBS, params={"limit": 1}, headers=caller.headers).json()["data"][0]
    one_job = len(json.dumps(newest, separators=(",", ":")))
    monkeypatch.setattr(cursors, "MAX_PAGE_BYTES", one_job + one_job // 2)  # room for one job, not two
    seen, after = [], None
    while True:
        page = client.get(JOBS, params={"limit": 100, **({"after": after} if after else {})}, headers=caller.headers).json()
        assert len(page["data"]) == 1
        seen.append(page["data"][0]["id"])
        if not page["has_more"]:
            break
        after = seen[-1]
    assert seen == list(reversed(ids))


def test_a_json_body_over_the_limit_is_413_before_validation(client: TestClient, caller: Caller, enqueued) -> None:
    body = b'{"model": "' + b"x" * (2 << 20) + b'"}'
    response = client.post(JOBS, content=body, headers={**caller.headers, "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large", response.text
    assert enqueued.job_ids == []


def test_the_rate_limiter_refills_and_says_how_long_to_wait() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.take("k", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k", now=0.0) == pytest.approx(0.5)
    assert limiter.take("other", now=0.0) == 0.0  # buckets are per key
    assert limiter.take("k", now=0.5) == 0.0  # one token back after 1/rate seconds
    assert RateLimiter(rate=0, burst=1).take("k") == 0.0  # 0 = off


def test_upload_slots_are_per_project_and_released() -> None:
    slots = UploadSlots(limit=2)
    assert slots.acquire("a") and slots.acquire("a") and not slots.acquire("a")
    assert slots.acquire("b")
    slots.release("a")
    assert slots.acquire("a") and slots.active("a") == 2
