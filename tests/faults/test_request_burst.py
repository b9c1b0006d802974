"""A burst of requests larger than the API's connection pool is served, not deadlocked.

A sync endpoint's session keeps its connection until FastAPI has validated the response in a thread of
the shared pool; with more requests than connections, every connection could end up held by a request
waiting for a thread while every thread waits for a connection, until the pool timeout turns them into
503s. ``api.deps.DatabaseGate`` admits only as many requests to a session as there are connections.
Here: a pool of 2 connections (2 s checkout timeout), 60 concurrent requests through a real ASGI
server stack (httpx's ASGI transport on one event loop).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from api.main import create_app
from store.db import make_engine, make_sessionmaker, session_scope
from store.keys import create_key
from store.projects import create_project
from store.settings import Settings

BURST = 60


def test_a_burst_larger_than_the_pool_gets_200s_not_503s(worker_db_url: str, redis_url: str, tmp_path: Path) -> None:
    engine = make_engine(worker_db_url, pool_size=2, max_overflow=0, pool_timeout=2)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as session:
        project = create_project(session, "burst")
        key, _ = create_key(session, project.id, "k")
    settings = Settings(data_dir=tmp_path / "data", database_url=worker_db_url, broker_url=redis_url, result_backend=redis_url)
    app = create_app(settings, session_factory=factory, enqueue=lambda job_id: None)

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api", headers={"Authorization": f"Bearer {key}"}
        ) as client:
            answers = await asyncio.gather(*(client.get("/v1/fine_tuning/jobs") for _ in range(BURST)))
        return [a.status_code for a in answers]

    started = time.monotonic()
    statuses = asyncio.run(burst())
    elapsed = time.monotonic() - started
    engine.dispose()
    assert statuses == [200] * BURST, sorted(set(statuses))
    assert elapsed < 20, f"{elapsed:.1f} s: requests waited on the pool timeout"
