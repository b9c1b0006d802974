"""The Celery task that runs a fine-tuning job: ``radis.run_job(job_id)``.

The message carries only the job id; everything else is read from the store, so a message sent twice,
late, or after the job was cancelled does no harm (see :func:`worker.runner.process_job`).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from store.artifacts import ArtifactStore
from store.settings import get_settings
from worker.app import RUN_JOB_TASK, celery_app, ensure_result_folder
from worker.runner import new_worker_id, process_job, worker_sessionmaker

log = logging.getLogger(__name__)


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
    outcome = process_job(
        worker_sessionmaker(settings.database_url),
        ArtifactStore(settings.artifacts_root),
        settings,
        job_id,
        worker_id,
    )
    log.info("job %s: %s (delivery %s)", job_id, outcome, self.request.id)
    return {"job_id": job_id, "outcome": outcome, "worker_id": worker_id}
