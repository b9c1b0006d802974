"""``GET /v1/fine_tuning/jobs/{id}/events/stream``: wire format, replay with Last-Event-ID, the end, isolation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.routes import stream
from store.db import session_scope
from store.events import add_event
from tests.api.conftest import Caller


def _messages(body: str) -> list[dict[str, Any]]:
    """Parse an SSE body into ``{"id", "event", "data"}`` dicts (comments and ``retry:`` lines skipped)."""
    found = []
    for block in body.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "data" in fields:
            found.append({"id": fields.get("id"), "event": fields.get("event"), "data": json.loads(fields["data"])})
    return found


@pytest.fixture
def finished_job(
    client: TestClient, caller: Caller, training_file: dict[str, Any], tiny_model_dir, db_sessionmaker: sessionmaker[Session]
) -> dict[str, Any]:
    """A job with a few metrics events, cancelled while queued (so it is finished)."""
    body = {"model": str(tiny_model_dir), "training_file": training_file["id"], "method": {"type": "supervised"}}
    job = client.post("/v1/fine_tuning/jobs", json=body, headers=caller.headers).json()
    with session_scope(db_sessionmaker) as session:
        for step in (1, 2, 3):
            add_event(
                session,
                job["id"],
                f"Step {step}/3: training loss={4 - step:.2f}",
                type="metrics",
                data={"step": step, "total_steps": 3, "train_loss": 4.0 - step},
            )
    assert client.post(f"/v1/fine_tuning/jobs/{job['id']}/cancel", headers=caller.headers).json()["status"] == "cancelled"
    return job


def _stream(client: TestClient, caller: Caller, job_id: str, **kwargs: Any):
    return client.get(
        f"/v1/fine_tuning/jobs/{job_id}/events/stream", headers={**caller.headers, **kwargs.pop("headers", {})}, **kwargs
    )


def test_replays_every_event_oldest_first_then_ends_with_the_job(
    client: TestClient, caller: Caller, finished_job: dict[str, Any]
) -> None:
    response = _stream(client, caller, finished_job["id"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    messages = _messages(response.text)
    listed = client.get(
        f"/v1/fine_tuning/jobs/{finished_job['id']}/events", params={"limit": 100}, headers=caller.headers
    ).json()["data"]
    events, end = messages[:-1], messages[-1]
    assert [m["id"] for m in events] == [e["id"] for e in reversed(listed)]
    assert [m["data"] for m in events] == list(reversed(listed))  # same objects as the polling route
    assert [m["event"] for m in events] == [e["type"] for e in reversed(listed)]
    assert [m["data"]["data"]["step"] for m in events if m["event"] == "metrics"] == [1, 2, 3]
    assert events[0]["data"]["message"].startswith("Created fine-tuning job") and events[-1]["data"]["message"] == "Job cancelled"
    assert end["event"] == "end" and end["id"] is None
    assert end["data"]["id"] == finished_job["id"] and end["data"]["status"] == "cancelled"


def test_last_event_id_replays_only_what_came_after(client: TestClient, caller: Caller, finished_job: dict[str, Any]) -> None:
    every = [m["id"] for m in _messages(_stream(client, caller, finished_job["id"]).text) if m["id"]]
    assert len(every) == 5
    resumed = _messages(_stream(client, caller, finished_job["id"], headers={"Last-Event-ID": every[1]}).text)
    assert [m["id"] for m in resumed if m["id"]] == every[2:]
    assert resumed[-1]["event"] == "end"
    # The query parameter does the same for clients that cannot set the header.
    by_query = _messages(_stream(client, caller, finished_job["id"], params={"after": every[3]}).text)
    assert [m["id"] for m in by_query if m["id"]] == every[4:]
    # Resuming after the last event sends only the end.
    assert [
        m["event"] for m in _messages(_stream(client, caller, finished_job["id"], headers={"Last-Event-ID": every[-1]}).text)
    ] == ["end"]


def test_another_projects_job_is_a_404_and_no_key_a_401(
    client: TestClient, caller: Caller, other_caller: Caller, finished_job: dict[str, Any]
) -> None:
    response = _stream(client, other_caller, finished_job["id"])
    assert response.status_code == 404 and response.json()["error"]["code"]
    assert client.get(f"/v1/fine_tuning/jobs/{finished_job['id']}/events/stream").status_code == 401
    assert _stream(client, caller, "ftjob-doesnotexist").status_code == 404


def test_a_malformed_last_event_id_is_refused_by_name(client: TestClient, caller: Caller, finished_job: dict[str, Any]) -> None:
    response = _stream(client, caller, finished_job["id"], headers={"Last-Event-ID": "banana"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "Last-Event-ID"


def test_a_backlog_larger_than_one_batch_is_sent_whole(
    client: TestClient,
    caller: Caller,
    finished_job: dict[str, Any],
    db_sessionmaker: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream, "BATCH", 2)
    with session_scope(db_sessionmaker) as session:
        for i in range(3):
            add_event(session, finished_job["id"], f"late {i}")
    messages = _messages(_stream(client, caller, finished_job["id"]).text)
    assert [m["data"]["message"] for m in messages[-4:-1]] == ["late 0", "late 1", "late 2"]
    assert len(messages) == 9 and messages[-1]["event"] == "end"
