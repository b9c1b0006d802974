"""Open endpoints for operators: liveness, readiness, Prometheus metrics. No key needed, no secrets shown."""

from __future__ import annotations

import logging
from functools import lru_cache

from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.responses import Response

from api.deps import AppState, StateDep
from api.errors import first_line
from api.metrics import CONTENT_TYPE
from store.job_queries import count_jobs_by_status
from store.migrate import head_revision
from store.settings import redacted

logger = logging.getLogger("api.health")

router = APIRouter(tags=["operations"])

#: Seconds a readiness probe waits for the broker.
BROKER_TIMEOUT_S = 2.0


@lru_cache(maxsize=1)
def _head_revision() -> str | None:
    # The migrations folder does not change while the process runs; parse it once.
    return head_revision()


def check_database(state: AppState) -> str | None:
    """None when the database answers ``SELECT 1`` and its schema is at the newest migration; else why not."""
    try:
        with state.session_factory() as session:
            session.execute(text("SELECT 1"))
            current = MigrationContext.configure(session.connection()).get_current_revision()
    except Exception as exc:
        logger.warning("readiness: database check failed: %s", first_line(exc))
        return f"unreachable ({type(exc).__name__})"
    head = _head_revision()
    if current != head:
        return f"schema at revision {current}, expected {head}: run the migrations"
    return None


def check_broker(url: str, timeout: float = BROKER_TIMEOUT_S) -> str | None:
    """None when the Celery broker at ``url`` accepts a connection within ``timeout`` seconds; else why not."""
    try:
        # A plain Redis URL gets a direct ping; anything else (several URLs, SQL or AMQP brokers) goes through kombu.
        if url.startswith(("redis://", "rediss://")) and ";" not in url:
            import redis

            client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
            try:
                client.ping()
            finally:
                client.close()
        else:
            from kombu import Connection

            with Connection(url, connect_timeout=timeout) as connection:
                connection.ensure_connection(max_retries=1)
    except Exception as exc:
        logger.warning("readiness: broker %s unreachable: %s", redacted(url), first_line(exc))
        return f"unreachable ({type(exc).__name__})"
    return None


@router.get("/healthz", summary="Liveness: the process answers (touches nothing else)")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database and the broker answer", responses={503: {"description": "Not ready"}})
def readyz(state: StateDep) -> JSONResponse:
    """200 when the database (migrated) and the broker are reachable; 503 naming what is not."""
    checks = {
        "database": check_database(state) or "ok",
        "broker": check_broker(state.settings.broker_url) or "ok",
    }
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics")
def metrics(state: StateDep) -> Response:
    """Request counts and latencies by route, and jobs by status (read from the database now)."""
    try:
        with state.session_factory() as session:
            state.metrics.set_job_counts(count_jobs_by_status(session))
    except Exception as exc:
        logger.warning("metrics: could not count jobs: %s", first_line(exc))
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
