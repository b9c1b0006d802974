"""The FastAPI application: an OpenAI-compatible fine-tuning API for RaDis.

There is no module-level ``app``: importing this module must touch no database and read no settings.
Run it with the factory::

    uvicorn api.main:create_app --factory

This process never imports torch, transformers or peft (a test checks it): corpus validation and the
job-config checks come from torch-free modules of ``radis_core``, and the worker's queue client
(:class:`worker.queue.JobQueue`) imports Celery only when the first job is sent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from api.admission import AdmissionMiddleware
from api.deps import AppState
from api.errors import install_error_handlers
from api.metrics import Metrics, MetricsMiddleware
from api.openapi import install_openapi
from api.request_id import RequestIdMiddleware
from api.routes import adapters, files, health, jobs, models, stream, uploads
from api.routes.dashboard import mount_dashboard
from api.routes.docs import mount_docs
from api.security_headers import SecurityHeadersMiddleware
from radis_core import __version__
from store.artifacts import open_artifact_store
from store.db import api_engine_options, make_engine, make_sessionmaker
from store.logs import configure_logging
from store.migrate import upgrade
from store.settings import Settings, get_settings
from worker.queue import JobQueue, Send

logger = logging.getLogger("api")

#: Database connections of one API process (and requests holding a session at once, :class:`api.deps.DatabaseGate`).
API_POOL_SIZE = 15


def create_app(
    settings: Settings | None = None,
    *,
    session_factory: sessionmaker[Session] | None = None,
    enqueue: Send | None = None,
) -> FastAPI:
    """Build the app.

    ``settings`` default to :func:`store.settings.get_settings` (the environment). ``session_factory``
    replaces the database engine built from ``settings.database_url`` (tests hand in one bound to a
    rolled-back transaction); ``enqueue`` replaces the transport that puts a job's message on the broker
    (tests record the ids; the app still records each send through ``app.state.radis.queue``, a
    :class:`worker.queue.JobQueue`). With its own embedded (SQLite) database the
    app migrates it on startup; a server database is migrated by the deployment (``alembic upgrade head``).
    """
    settings = settings or get_settings()
    # After uvicorn set up its handlers (the factory runs then): the JSON formatter and the ids go on them.
    configure_logging(settings.log_format)
    engine = None
    if session_factory is None:
        # A fixed pool as wide as the DatabaseGate (api.deps): no connection opened and closed per request,
        # and a ping only for a connection that sat idle (store.db.api_engine_options).
        engine = make_engine(settings.database_url, **api_engine_options(settings.database_url, API_POOL_SIZE))
        session_factory = make_sessionmaker(engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if engine is not None and settings.embedded:
            upgrade(settings.database_url)
        logger.info("RaDis API starting with settings %s", settings.describe())
        yield
        if engine is not None:
            engine.dispose()

    app = FastAPI(
        title="RaDis fine-tuning service",
        version=__version__,
        description=(
            "Fine-tune open chat LLMs for translation without forgetting (RaDis, arXiv 2410.13944), "
            "behind OpenAI's files and fine-tuning API."
        ),
        lifespan=lifespan,
        # FastAPI's Swagger UI and ReDoc load their scripts from a public CDN (blank offline, and a script of
        # another origin on the one whose dashboard keeps the key in sessionStorage): /docs is served from
        # the fastapi-offline wheel's files instead (api/routes/docs.py).
        docs_url=None,
        redoc_url=None,
    )
    metrics = Metrics()
    app.state.radis = AppState(
        settings=settings,
        session_factory=session_factory,
        artifacts=open_artifact_store(settings),
        queue=JobQueue(session_factory, settings, send=enqueue),
        metrics=metrics,
    )
    # Inside the catch-all (added before it): keys, rates and body limits are checked before any route runs.
    app.add_middleware(AdmissionMiddleware, state=app.state.radis)
    install_error_handlers(app)
    app.add_middleware(SecurityHeadersMiddleware)
    # Added last, so it runs outermost: it also times and counts the catch-all's 500 answers.
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    # Outermost of all: every answer carries X-Request-ID, and every line logged for it the id.
    app.add_middleware(RequestIdMiddleware)
    for router in (files.router, uploads.router, jobs.router, stream.router, adapters.router, models.router, health.router):
        app.include_router(router)
    mount_dashboard(app)
    mount_docs(app)
    install_openapi(app)
    return app
