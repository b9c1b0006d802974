"""Remove the folders of jobs that ended (issue 13): checkpoints and working copies go, final outputs stay.

A job's folder under the artifact root (``jobs/<id>/``: checkpoints, the rationale cache of the run, the
adapter and report before they are published) is needed only while the job may still run or resume. Once
it succeeded, failed or was cancelled, its outputs are result files of the project (``files/``), and the
folder is removed: :func:`clean_job` right after the worker's final transition, :func:`clean_ended_jobs`
from the reconciler for what that missed. The rules are in :mod:`store.usage`.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from store import uploads, usage
from store.artifacts import ArtifactStore
from worker.store_writes import in_transaction

log = logging.getLogger(__name__)


def clean_job(factory: sessionmaker[Session], artifacts: ArtifactStore, job_id: str) -> int | None:
    """Remove the ended job's folder (and blobs of deleted inputs no active job needs); returns the bytes
    freed, or ``None`` when the job has not ended or was cleaned already."""
    plan = in_transaction(factory, lambda s: usage.cleanup_plan(s, job_id))
    if plan is None:
        return None
    freed = artifacts.job_dir_bytes(job_id)
    artifacts.remove_job_dir(job_id)
    for key in plan.deleted_input_keys:
        if artifacts.exists(key):
            freed += artifacts.size(key)
            artifacts.delete(key)
    in_transaction(factory, lambda s: usage.mark_cleaned(s, job_id))
    log.info("job %s: folder removed (%d bytes freed)", job_id, freed)
    return freed


def clean_ended_jobs(factory: sessionmaker[Session], artifacts: ArtifactStore, limit: int = 100) -> int:
    """Clean up to ``limit`` ended jobs not cleaned yet; returns how many were cleaned."""
    cleaned = 0
    for job_id in in_transaction(factory, lambda s: usage.jobs_to_clean(s, limit)):
        try:
            if clean_job(factory, artifacts, job_id) is not None:
                cleaned += 1
        except Exception:
            log.exception("job %s: could not remove its folder; retried at the next pass", job_id)
    return cleaned


def clean_expired_uploads(factory: sessionmaker[Session], artifacts: ArtifactStore, limit: int = 100) -> int:
    """Delete the parts of uploads that expired before completion (:mod:`store.uploads`); returns how many."""
    parts = in_transaction(factory, lambda s: uploads.end_expired_uploads(s, limit))
    for part in parts:  # after the commit: the rows are gone, the blobs follow
        artifacts.delete(part.storage_key)
    return len(parts)
