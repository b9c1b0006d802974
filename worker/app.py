"""The Celery app of the GPU worker.

Light on purpose: :class:`worker.queue.JobQueue` imports this module to send a job (in the API process
too), so nothing here (or in what it imports) loads torch, transformers, peft or the pipeline. ``celery -A worker.app worker -Q gpu``
starts a worker; the task itself lives in :mod:`worker.tasks` (loaded by the worker through
``include``).

The broker is only a doorbell: the store is the source of truth. Every job message is sent by
:meth:`worker.queue.JobQueue.enqueue`, after the transaction that created the job committed; a lost
message is sent again by the reconciler (:mod:`worker.reconciler`); a duplicate one is harmless.
"""

from __future__ import annotations

import logging
from pathlib import Path

from celery import Celery
from sqlalchemy.engine import make_url

from store.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: The task's registered name: the contract between whoever enqueues and the worker.
RUN_JOB_TASK = "radis.run_job"
#: The queue GPU workers consume (``-Q gpu``).
GPU_QUEUE = "gpu"
#: The transport that carries ``sqla+…`` broker URLs: Kombu's, polling twice as often (see its module).
EMBEDDED_BROKER_TRANSPORT = "worker.embedded_broker:Transport"


def ensure_result_folder(settings: Settings) -> None:
    """Create the folder of a SQLite result backend (``db+sqlite:///…``); the worker calls it before a
    task stores its result. SQLite creates the file, not its folder."""
    url = settings.result_backend
    if url.startswith("db+"):
        parsed = make_url(url[len("db+") :])
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _broker(url: str) -> tuple[str, str | None]:
    """The broker URL and transport Celery gets for ``url``: database brokers use the quicker-polling
    embedded transport, which takes the bare SQLAlchemy URL; other URLs pass through."""
    if url.startswith("sqla+"):
        return url[len("sqla+") :], EMBEDDED_BROKER_TRANSPORT
    return url, None


def make_celery(settings: Settings) -> Celery:
    """A Celery app configured for long GPU jobs from ``settings`` (broker, result backend).

    One job per child process (``worker_max_tasks_per_child=1``: the child exits after the job, which
    returns all GPU memory), one message prefetched, acknowledged only after the task ran
    (``task_acks_late``) and sent back to the queue if the child dies (``task_reject_on_worker_lost``).
    A ``sqla+…`` broker is carried by :mod:`worker.embedded_broker` (Kombu's transport, polling every
    0.5 s instead of 1 s). Nothing is created on disk here: importing this module has no side effects.
    """
    broker_url, broker_transport = _broker(settings.broker_url)
    app = Celery("radis", broker=broker_url, backend=settings.result_backend, include=["worker.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=1,
        task_routes={RUN_JOB_TASK: {"queue": GPU_QUEUE}},
        task_default_queue=GPU_QUEUE,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        # The job's state lives in the store; results only help debugging, so they need not live long.
        result_expires=24 * 3600,
    )
    if broker_transport is not None:
        app.conf.broker_transport = broker_transport
    return app


#: The app ``celery -A worker.app worker -Q gpu`` runs, configured from the environment (``RADIS_*``).
celery_app = make_celery(get_settings())
