"""The Celery task that runs a fine-tuning job: ``radis.run_job(job_id)``.

The message carries only the job id; everything else is read from the store, so a message sent twice,
late, or after the job was cancelled does no harm (see :func:`worker.runner.process_job`).

The worker's shutdown is wired here (this module loads only in worker processes): ``SIGTERM`` to the main
process reaches the pool children, whose running job is handed back to the queue after its current
step (:mod:`worker.drain`).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_shutting_down,
)

# First of this package: PROMETHEUS_MULTIPROC_DIR must be set before prometheus_client loads (worker.metrics).
import worker.metrics_dir  # noqa: F401  # isort: skip

from store.artifacts import open_artifact_store
from store.logs import configure_logging, job_context
from store.settings import get_settings
from worker.app import RUN_JOB_TASK, celery_app, ensure_result_folder
from worker.drain import drain_requested, forward_to_pool_children, install_in_pool_child, running_job
from worker.metrics import child_exited, job_ended, job_metrics, start_exporter
from worker.runner import new_worker_id, process_job, worker_sessionmaker

log = logging.getLogger(__name__)

# weak=False: the receivers are module functions, but Celery's default weak references are easy to lose.
worker_process_init.connect(lambda **_: install_in_pool_child(), weak=False)
worker_shutting_down.connect(forward_to_pool_children, weak=False)


def _configure_logging(**_: Any) -> None:
    """After Celery set up its handlers: the request/job id filter, and the JSON formatter when asked."""
    configure_logging(get_settings().log_format)


after_setup_logger.connect(_configure_logging, weak=False)
# The main process serves every process's metrics; a pool child's live gauges go when it exits.
worker_init.connect(lambda **_: start_exporter(get_settings()), weak=False)
worker_process_shutdown.connect(lambda **_: child_exited(), weak=False)
after_setup_task_logger.connect(_configure_logging, weak=False)


@celery_app.task(name=RUN_JOB_TASK, bind=True)
def run_job(self: Task, job_id: str) -> dict[str, Any]:
    """Claim and run the job ``job_id``; returns ``{"job_id", "outcome", "worker_id"}`` for the result backend."""
    # The pipeline is loaded in the child that runs the job, not when the worker's parent process loads
    # this module (each child exits after one job: worker_max_tasks_per_child=1 frees GPU memory). The
    # pipeline loads torch itself once it runs.
    import radis_core.pipeline  # noqa: F401

    settings = get_settings()
    settings.ensure_dirs()
    ensure_result_folder(settings)
    worker_id = new_worker_id()
    with job_context(job_id), running_job(), job_metrics():
        outcome = process_job(
            worker_sessionmaker(settings.database_url),
            open_artifact_store(settings),
            settings,
            job_id,
            worker_id,
            drain=drain_requested,
        )
    job_ended(outcome)
    log.info("job %s: %s (delivery %s)", job_id, outcome, self.request.id)
    return {"job_id": job_id, "outcome": outcome, "worker_id": worker_id}
