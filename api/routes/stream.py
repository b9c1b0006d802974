"""``GET /v1/fine_tuning/jobs/{id}/events/stream``: a job's events as Server-Sent Events.

Each event is one SSE message: ``id:`` is the event's public id (``ftevent-N``), ``event:`` its type
(``message`` or ``metrics``), ``data:`` the same JSON object ``GET …/events`` lists. Events come oldest
first. A reconnecting client sends ``Last-Event-ID`` (browsers' ``EventSource`` does it by itself; the
``after`` query parameter does the same for clients that cannot set headers) and receives only what
came after. When the job is finished and every event was sent, a final ``event: end`` carries the job
object and the stream closes. Same key and project isolation as every route: another project's job is
a 404 before any byte is streamed. Polling ``GET …/events`` stays available.

The database is polled (the store has no notification channel); each poll is a short session in a
worker thread, so a stream holds no connection while it waits. Every ``stream_key_recheck_s`` (a setting) a
poll also checks that the caller's key is still live: once it is revoked, the stream sends an
``event: error`` (OpenAI's envelope, ``invalid_api_key``) and closes, and a reconnect gets 401.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from api.cursors import parse_event_cursor
from api.deps import AppState, KeyIdDep, ProjectDep, SessionDep, StateDep
from api.errors import AUTHENTICATION, error_body
from api.schemas import FineTuningJob, JobEventObject
from store import events as store_events
from store import jobs as store_jobs
from store.db import session_scope
from store.ids import parse_event_id
from store.models import ACTIVE_STATUSES, ApiKey

router = APIRouter(prefix="/v1/fine_tuning/jobs", tags=["fine-tuning"])

#: Seconds between database polls while the job runs (module-level so tests can shorten it).
POLL_SECONDS = 0.5
#: Seconds of silence after which a comment line is sent, so proxies keep the connection open.
KEEPALIVE_SECONDS = 15.0
#: Events read per poll; a backlog drains over consecutive polls without waiting.
BATCH = 100


def format_sse(data: dict[str, Any], *, event: str, event_id: str | None = None) -> str:
    """One SSE message (the JSON is on one line, so one ``data:`` field suffices)."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class KeyRevoked(Exception):
    """The stream's key was revoked (or deleted) while it was open."""


def _poll(
    state: AppState, project_id: str, job_id: str, cursor: int | None, key_id: str | None = None
) -> tuple[list[JobEventObject], FineTuningJob, bool]:
    """The events after ``cursor`` and the job. The job is read first: if it was already finished, the
    events read next include everything it will ever have, so ending after them loses nothing. With
    ``key_id``, :class:`KeyRevoked` when that key is no longer live."""
    with session_scope(state.session_factory) as session:
        if key_id is not None:
            key = session.get(ApiKey, key_id)
            if key is None or key.revoked_at is not None:
                raise KeyRevoked(key_id)
        job = store_jobs.get_job(session, project_id, job_id)
        finished = job.status not in ACTIVE_STATUSES
        body = FineTuningJob.from_row(job)
        rows, has_more = store_events.list_events(session, job_id, after=cursor, limit=BATCH, order="asc")
        return [JobEventObject.from_row(row) for row in rows], body, finished and not has_more


async def _stream(
    request: Request, state: AppState, project_id: str, job_id: str, cursor: int | None, key_id: str
) -> AsyncIterator[str]:
    # Tell EventSource how long to wait before reconnecting after a dropped connection.
    yield "retry: 2000\n\n"
    last_sent = key_checked = time.monotonic()
    while True:
        recheck = time.monotonic() - key_checked >= state.settings.stream_key_recheck_s
        try:
            events, job, done = await run_in_threadpool(_poll, state, project_id, job_id, cursor, key_id if recheck else None)
        except KeyRevoked:
            revoked = error_body("Incorrect or revoked API key provided.", type=AUTHENTICATION, code="invalid_api_key")
            yield format_sse(revoked, event="error")
            return
        if recheck:
            key_checked = time.monotonic()
        for event in events:
            cursor = parse_event_id(event.id)
            yield format_sse(event.model_dump(mode="json"), event=event.type, event_id=event.id)
            last_sent = time.monotonic()
        if done:
            yield format_sse(job.model_dump(mode="json"), event="end")
            return
        if len(events) == BATCH:
            continue  # a backlog: read on without waiting
        if await request.is_disconnected():
            return
        if time.monotonic() - last_sent >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(POLL_SECONDS)


@router.get(
    "/{job_id}/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "The job's events as Server-Sent Events"}},
    summary="Stream a job's events (Server-Sent Events)",
)
def stream_events(
    job_id: str,
    request: Request,
    project: ProjectDep,
    key_id: KeyIdDep,
    session: SessionDep,
    state: StateDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[str | None, Query(description="Same as Last-Event-ID, for clients that cannot set headers.")] = None,
) -> StreamingResponse:
    """The job's events oldest first, then new ones as they happen; ends once the job is finished.

    ``Last-Event-ID`` (or ``after``) = the id of the last event received: only newer ones are sent."""
    store_jobs.get_job(session, project.id, job_id)  # 404 for another project's job, before streaming
    cursor = parse_event_cursor(last_event_id, "Last-Event-ID")
    if cursor is None:
        cursor = parse_event_cursor(after, "after")
    return StreamingResponse(
        _stream(request, state, project.id, job_id, cursor, key_id),
        media_type="text/event-stream",
        # no-transform/X-Accel-Buffering: a buffering proxy would hold the events back until the end.
        headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
    )
