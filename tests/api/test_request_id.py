"""``X-Request-ID``: every answer carries one; a caller's well-formed id is kept, anything else replaced."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from api.request_id import RequestIdMiddleware
from store.logs import REQUEST_ID_PATTERN, ContextFilter, JsonFormatter
from tests.api.conftest import Caller


def test_every_answer_has_a_fresh_request_id(client: TestClient, caller: Caller) -> None:
    ids = set()
    for path, headers in (("/healthz", {}), ("/v1/files", caller.headers), ("/v1/files", {}), ("/nowhere", {})):
        response = client.get(path, headers=headers)
        request_id = response.headers["x-request-id"]
        assert REQUEST_ID_PATTERN.fullmatch(request_id), (path, response.status_code)
        ids.add(request_id)
    assert len(ids) == 4  # 200, 200, 401 and 404 each got their own


def test_a_callers_well_formed_id_is_kept(client: TestClient, caller: Caller) -> None:
    response = client.get("/v1/fine_tuning/jobs", headers={**caller.headers, "X-Request-ID": "trace-42.a:b_c"})
    assert response.status_code == 200 and response.headers["x-request-id"] == "trace-42.a:b_c"


@pytest.mark.parametrize("bad", ["", "has space", "a" * 129, "-starts-with-dash", "back\\slash", "<b>"])
def test_a_malformed_id_is_replaced(client: TestClient, bad: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": bad})
    assert response.headers["x-request-id"] != bad and REQUEST_ID_PATTERN.fullmatch(response.headers["x-request-id"])


def test_log_lines_of_a_request_carry_its_request_and_job_ids() -> None:
    """A route's log line, formatted as JSON, names the request's id and the job its path names."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    async def route(request: Request) -> PlainTextResponse:
        logging.getLogger("tests.request_id").warning("working on it")
        return PlainTextResponse("ok")

    app = RequestIdMiddleware(Starlette(routes=[Route("/{path:path}", route)]))
    handler = Keep()
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.request_id")
    logger.addHandler(handler)
    try:
        with TestClient(app) as client:
            client.get("/v1/fine_tuning/jobs/ftjob-abc123/events", headers={"X-Request-ID": "req-1"})
            client.get("/v1/files")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in lines)
    assert (first["request_id"], first["job_id"], first["message"], first["level"]) == (
        "req-1",
        "ftjob-abc123",
        "working on it",
        "warning",
    )
    assert REQUEST_ID_PATTERN.fullmatch(second["request_id"]) and second["job_id"] is None
    # Outside a request nothing is left behind.
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "idle", None, None)
    ContextFilter().filter(record)
    assert (record.request_id, record.job_id) == (None, None)  # type: ignore[attr-defined]  # set by the filter
