"""Fine-tuning jobs and their state machine. This module is the only code that changes a job's state.

``queued → running → succeeded | failed | cancelled`` (a queued job may also be cancelled directly; a
running one goes back to queued when its worker shuts down cleanly: :func:`release_job`). A pause
(:func:`request_pause`) makes a queued job ``paused`` at once and a running one at its next step
(:func:`mark_paused`); :func:`resume_job` queues it again, and a paused job may be cancelled.
Every transition is one conditional ``UPDATE … WHERE id = :id AND status = :expected [AND worker_id =
:me]`` whose row count says whether it happened, so two workers can never both run a job and a worker
that lost its job (another took it over after a missed heartbeat) cannot write over the new owner. Each
transition appends a :class:`~store.models.JobEvent` in the same transaction. Functions only flush; the
caller's :func:`store.db.session_scope` commits.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, func, or_, select, update
from sqlalchemy.orm import Session

from radis_core.settings.methods import METHODS
from radis_core.stages import stage as stage_spec
from store.errors import IdempotencyConflict, InvalidTransition, LostOwnership, NotFound, QuotaExceeded
from store.events import add_event
from store.ids import utcnow
from store.models import ACTIVE_STATUSES, TERMINAL_STATUSES, EventLevel, File, Job, JobStatus
from store.projects import lock_project
from store.result_files import MODEL_WEIGHTS

JOB_KIND = "fine-tuning job"


def request_fingerprint(payload: Mapping[str, Any]) -> str:
    """SHA-256 of a request body in canonical JSON: equal for a retried request, different for a changed one."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- creation and single-job reads (listings and scans: store.job_queries) ---------------------------------------------------------------------------


def create_job(
    session: Session,
    *,
    project_id: str,
    model: str,
    training_file_id: str,
    method: str = "radis",
    validation_file_id: str | None = None,
    seed: int | None = None,
    suffix: str | None = None,
    metadata: dict[str, Any] | None = None,
    hyperparameters: dict[str, Any] | None = None,
    method_settings: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    max_active_jobs: int | None = None,
    wall_time_budget_s: int | None = None,
    token_budget: int | None = None,
) -> tuple[Job, bool]:
    """Create a queued job; returns ``(job, created)``.

    With an ``idempotency_key`` already used by this project: the same ``request_hash`` returns the
    existing job with ``created=False``; a different one raises :class:`IdempotencyConflict`. With
    ``max_active_jobs``, a project that already has that many queued or running jobs gets
    :class:`QuotaExceeded`. ``wall_time_budget_s``: seconds it may run (see :mod:`store.usage`). ``token_budget``: tokens it may generate and train. The files were validated at upload; the caller checks that they belong to
    the project in the same transaction. Enqueue the job only after committing.
    """
    if method not in METHODS:
        raise ValueError(f"method: must be one of {', '.join(METHODS)}, got {method!r}")
    # Serialises creations in one project, so neither the idempotency check nor the quota check can race.
    lock_project(session, project_id)
    if idempotency_key is not None:
        existing = session.scalars(
            select(Job).where(Job.project_id == project_id, Job.idempotency_key == idempotency_key)
        ).one_or_none()
        if existing is not None:
            if existing.request_hash != request_hash:
                raise IdempotencyConflict(idempotency_key, existing.id)
            return existing, False
    if max_active_jobs is not None:
        active = count_active_jobs(session, project_id)
        if active >= max_active_jobs:
            raise QuotaExceeded(
                f"The project already has {active} active fine-tuning jobs (limit {max_active_jobs});"
                " wait for one to finish or cancel one",
                limit=max_active_jobs,
                current=active,
            )
    job = Job(
        project_id=project_id,
        model=model,
        method=method,
        training_file_id=training_file_id,
        validation_file_id=validation_file_id,
        # OpenAI picks a seed when none is given and reports it, so a run can be repeated.
        seed=seed if seed is not None else secrets.randbelow(2**31),
        suffix=suffix,
        metadata_=metadata,
        hyperparameters=dict(hyperparameters or {}),
        method_settings=dict(method_settings or {}),
        status=JobStatus.QUEUED,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        wall_time_budget_s=wall_time_budget_s,
        token_budget=token_budget,
    )
    session.add(job)
    session.flush()
    add_event(session, job.id, f"Created fine-tuning job: {job.id}")
    return job, True


def get_job(session: Session, project_id: str, job_id: str) -> Job:
    """The project's job ``job_id`` (fresh from the database); another project's job is :class:`NotFound`."""
    job = session.get(Job, job_id, populate_existing=True)
    if job is None or job.project_id != project_id:
        raise NotFound(JOB_KIND, job_id)
    return job


def get_job_any(session: Session, job_id: str) -> Job:
    """The job ``job_id`` whatever its project (the worker's view); :class:`NotFound` if missing."""
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise NotFound(JOB_KIND, job_id)
    return job


def count_active_jobs(session: Session, project_id: str) -> int:
    """Jobs of the project that are validating, queued or running."""
    return int(
        session.scalar(select(func.count()).select_from(Job).where(Job.project_id == project_id, Job.status.in_(ACTIVE_STATUSES)))
        or 0
    )


# --- transitions ----------------------------------------------------------------------------------


def _conditional_update(session: Session, job_id: str, conditions: list[ColumnElement[bool]], values: dict[str, Any]) -> bool:
    """Run ``UPDATE jobs SET values WHERE id = job_id AND conditions``; True when the row matched."""
    # An UPDATE's result is a CursorResult (it has rowcount); Session.execute is typed for any statement.
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(Job).where(Job.id == job_id, *conditions).values(**values),
            # The row is re-read after the update; evaluating the WHERE in Python would be wasted work.
            execution_options={"synchronize_session": False},
        ),
    )
    return result.rowcount == 1


def _owner_update(session: Session, job_id: str, worker_id: str, values: dict[str, Any], action: str) -> Job:
    """Apply ``values`` only while ``worker_id`` owns the running job; otherwise explain why not."""
    if _conditional_update(session, job_id, [Job.status == JobStatus.RUNNING, Job.worker_id == worker_id], values):
        return get_job_any(session, job_id)
    job = get_job_any(session, job_id)
    if job.worker_id != worker_id:
        raise LostOwnership(job_id, f"cannot {action}: the job is owned by worker {job.worker_id!r}, not {worker_id!r}")
    raise InvalidTransition(job_id, f"cannot {action}: the job is {job.status}, not running")


def _check_progress(progress: float) -> None:
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress: must be between 0 and 1, got {progress}")


def claim_job(session: Session, job_id: str, worker_id: str) -> Job | None:
    """queued → running for ``worker_id``; ``None`` when the job is not queued (another worker has it,
    it finished, was cancelled, or does not exist) or a cancel was requested."""
    now = utcnow()
    claimed = _conditional_update(
        session,
        job_id,
        [Job.status == JobStatus.QUEUED, Job.cancel_requested.is_(False)],
        {
            "status": JobStatus.RUNNING,
            "worker_id": worker_id,
            "heartbeat_at": now,
            "started_at": now,
            "attempts": Job.attempts + 1,
        },
    )
    if not claimed:
        return None
    job = get_job_any(session, job_id)
    suffix = f" (attempt {job.attempts})" if job.attempts > 1 else ""
    add_event(session, job_id, f"Fine-tuning job started{suffix}", data={"worker_id": worker_id})
    return job


def take_over_stale(
    session: Session, job_id: str, worker_id: str, stale_before: datetime, max_attempts: int | None = None
) -> Job | None:
    """Give a running job whose heartbeat is older than ``stale_before`` to ``worker_id`` (it stays running
    and resumes from its newest checkpoint). ``None`` if it is not stale any more, or not running.

    A job whose cancel was requested is taken over too: the new owner sees ``cancel_requested`` and
    marks it cancelled. With ``max_attempts``, a job already started that often (it took its worker down
    each time) is failed with ``too_many_attempts`` instead, and ``None`` is returned: the queue moves on.
    """
    before = session.get(Job, job_id, populate_existing=True)
    if before is None:
        return None
    previous_worker = before.worker_id
    stale = [
        Job.status == JobStatus.RUNNING,
        or_(Job.heartbeat_at < stale_before, Job.heartbeat_at.is_(None)),
        # Compare-and-swap on the owner we saw: of two concurrent take-overs only the first matches,
        # whatever threshold each one passed.
        Job.worker_id == previous_worker if previous_worker is not None else Job.worker_id.is_(None),
    ]
    if max_attempts is not None and before.attempts >= max_attempts:
        message = f"The job stopped its worker {before.attempts} times (limit {max_attempts}); it is not retried"
        values = {"status": JobStatus.FAILED, "finished_at": utcnow(), "estimated_finish": None}
        values.update(error_code="too_many_attempts", error_message=message, error_param=None)
        if _conditional_update(session, job_id, [*stale, Job.attempts >= max_attempts], values):
            add_event(session, job_id, f"Job failed: {message}", level=EventLevel.ERROR, data={"code": "too_many_attempts"})
        return None
    values = {"worker_id": worker_id, "heartbeat_at": utcnow(), "attempts": Job.attempts + 1}
    if not _conditional_update(session, job_id, stale, values):
        return None
    job = get_job_any(session, job_id)
    add_event(
        session,
        job_id,
        f"Worker {previous_worker} stopped sending heartbeats; job taken over by {worker_id} (attempt {job.attempts})",
        level=EventLevel.WARN,
        data={"previous_worker_id": previous_worker, "worker_id": worker_id},
    )
    return job


def release_job(session: Session, job_id: str, worker_id: str, reason: str) -> Job:
    """running → queued: the owner is shutting down and hands the job back for any worker to claim at once
    (no stale wait); it resumes from its newest checkpoint. A clean hand-back is not a failed attempt, so
    ``attempts`` goes back down. A job whose cancel was requested is cancelled instead. Enqueue it after
    committing."""
    values = {"status": JobStatus.QUEUED, "worker_id": None, "heartbeat_at": None, "enqueued_at": None}
    owned = [Job.status == JobStatus.RUNNING, Job.worker_id == worker_id, Job.cancel_requested.is_(False)]
    if not _conditional_update(session, job_id, owned, {**values, "attempts": Job.attempts - 1}):
        return mark_cancelled(session, job_id, worker_id)  # raises unless only the cancel flag stood in the way
    add_event(session, job_id, f"Job returned to the queue: {reason}", level=EventLevel.WARN, data={"worker_id": worker_id})
    return get_job_any(session, job_id)


def heartbeat(session: Session, job_id: str, worker_id: str) -> bool:
    """Prove ``worker_id`` is alive and still owns the job; returns whether a cancel was requested.

    Raises :class:`LostOwnership` (another worker took the job over) or :class:`InvalidTransition` (the
    job is no longer running): either way the worker must stop.
    """
    job = _owner_update(session, job_id, worker_id, {"heartbeat_at": utcnow()}, "heartbeat")
    return job.cancel_requested


def heartbeat_requests(session: Session, job_id: str, worker_id: str) -> tuple[bool, bool]:
    """:func:`heartbeat`, returning what the caller asked of the job: ``(cancel_requested, pause_requested)``."""
    job = _owner_update(session, job_id, worker_id, {"heartbeat_at": utcnow()}, "heartbeat")
    return job.cancel_requested, job.pause_requested


def set_stage(
    session: Session,
    job_id: str,
    worker_id: str,
    stage: str,
    progress: float,
    estimated_finish: datetime | None = None,
) -> Job:
    """Enter ``stage`` at overall ``progress`` (0–1); an event marks each new stage."""
    spec = stage_spec(stage)  # ValueError naming the stages for an unknown one
    _check_progress(progress)
    previous = get_job_any(session, job_id).stage
    job = _owner_update(
        session,
        job_id,
        worker_id,
        {"stage": stage, "progress": progress, "estimated_finish": estimated_finish, "heartbeat_at": utcnow()},
        f"enter stage {stage}",
    )
    if previous != stage:
        add_event(session, job_id, spec.message, data={"stage": stage})
    return job


def set_progress(session: Session, job_id: str, worker_id: str, progress: float, estimated_finish: datetime | None = None) -> Job:
    """Update overall progress (0–1) and the finish estimate; no event (metrics events carry the detail).
    Counts as a heartbeat: any write by the owner proves it is alive."""
    _check_progress(progress)
    values: dict[str, Any] = {"progress": progress, "heartbeat_at": utcnow()}
    if estimated_finish is not None:
        values["estimated_finish"] = estimated_finish
    return _owner_update(session, job_id, worker_id, values, "set progress")


def set_resolved_hyperparameters(session: Session, job_id: str, worker_id: str, hyperparameters: dict[str, Any]) -> Job:
    """Record the hyperparameters after "auto" was resolved (what the API reports from then on)."""
    job = _owner_update(session, job_id, worker_id, {"resolved_hyperparameters": dict(hyperparameters)}, "set hyperparameters")
    add_event(session, job_id, "Resolved hyperparameters", data=dict(hyperparameters))
    return job


def mark_succeeded(
    session: Session,
    job_id: str,
    worker_id: str,
    *,
    fine_tuned_model: str,
    trained_tokens: int,
    result_files: list[str],
) -> Job:
    """running → succeeded, with the model name callers use and the files the job produced."""
    job = _owner_update(
        session,
        job_id,
        worker_id,
        {
            "status": JobStatus.SUCCEEDED,
            "finished_at": utcnow(),
            "progress": 1.0,
            "estimated_finish": None,
            "fine_tuned_model": fine_tuned_model,
            "trained_tokens": trained_tokens,
            "result_files": list(result_files),
        },
        "mark the job succeeded",
    )
    add_event(session, job_id, f"New fine-tuned model created: {fine_tuned_model}", data={"fine_tuned_model": fine_tuned_model})
    add_event(session, job_id, "The job has successfully completed")
    return job


def mark_failed(session: Session, job_id: str, worker_id: str, code: str, message: str, param: str | None = None) -> Job:
    """running → failed, with OpenAI's ``error`` fields (``code``, ``message``, ``param``)."""
    job = _owner_update(
        session,
        job_id,
        worker_id,
        {
            "status": JobStatus.FAILED,
            "finished_at": utcnow(),
            "estimated_finish": None,
            "error_code": code,
            "error_message": message,
            "error_param": param,
        },
        "mark the job failed",
    )
    add_event(session, job_id, f"Job failed: {message}", level=EventLevel.ERROR, data={"code": code, "param": param})
    return job


def mark_cancelled(session: Session, job_id: str, worker_id: str) -> Job:
    """running → cancelled, once the worker has stopped after seeing ``cancel_requested``."""
    job = _owner_update(
        session,
        job_id,
        worker_id,
        {"status": JobStatus.CANCELLED, "finished_at": utcnow(), "estimated_finish": None},
        "mark the job cancelled",
    )
    add_event(session, job_id, "Job cancelled")
    return job


def mark_paused(session: Session, job_id: str, worker_id: str) -> Job:
    """running → paused: the owner stopped after seeing ``pause_requested``, its checkpoint written (training
    saves the steps it finished before it stops). The job waits, owned by no worker, until :func:`resume_job`.
    A pause is not a failed attempt, so ``attempts`` goes back down. A job whose cancel was requested
    meanwhile is cancelled instead."""
    values = {
        "status": JobStatus.PAUSED,
        "worker_id": None,
        "heartbeat_at": None,
        "enqueued_at": None,
        "estimated_finish": None,
        "pause_requested": False,
        "attempts": Job.attempts - 1,
    }
    owned = [Job.status == JobStatus.RUNNING, Job.worker_id == worker_id, Job.cancel_requested.is_(False)]
    if not _conditional_update(session, job_id, owned, values):
        return mark_cancelled(session, job_id, worker_id)  # raises unless only the cancel flag stood in the way
    job = get_job_any(session, job_id)
    add_event(session, job_id, "Job paused", data={"worker_id": worker_id})
    return job


def mark_enqueued(session: Session, job_id: str) -> bool:
    """Record that a queue message was sent for the queued job; False if it is no longer queued."""
    return _conditional_update(session, job_id, [Job.status == JobStatus.QUEUED], {"enqueued_at": utcnow()})


def request_cancel(session: Session, project_id: str, job_id: str) -> Job:
    """Cancel as far as the job's state allows and return it.

    Queued (or validating, or paused): cancelled at once. Running: ``cancel_requested`` is set and the worker stops
    at its next check. Finished: unchanged (the API answers with the job as it is).
    """
    # A worker may change the status between our read and our update; look again, a few times at most.
    for _ in range(3):
        job = get_job(session, project_id, job_id)
        if job.status in (JobStatus.QUEUED, JobStatus.VALIDATING_FILES, JobStatus.PAUSED):
            values = {"status": JobStatus.CANCELLED, "cancel_requested": True, "finished_at": utcnow()}
            if _conditional_update(session, job_id, [Job.status == job.status], values):
                add_event(session, job_id, "Job cancelled")
                return get_job(session, project_id, job_id)
        elif job.status == JobStatus.RUNNING:
            if job.cancel_requested:
                return job
            if _conditional_update(session, job_id, [Job.status == JobStatus.RUNNING], {"cancel_requested": True}):
                add_event(session, job_id, "Cancellation requested; the job stops at its next step")
                return get_job(session, project_id, job_id)
        else:
            return job
    return get_job(session, project_id, job_id)


# --- fine-tuned models ------------------------------------------------------------------------------


def delete_fine_tuned_model(session: Session, project_id: str, model_id: str) -> tuple[Job, list[File]]:
    """Delete the project's fine-tuned model ``model_id``: from now on no read finds it, and its weights
    (the adapter archive, :data:`~store.result_files.MODEL_WEIGHTS`) are deleted files, no longer counted
    in the project's storage. The job and its other result files (report, samples, metrics) stay.

    Returns the job and the file rows deleted; the caller removes their blobs after commit. Another
    project's model, a deleted one, or a name no job produced is :class:`NotFound`.
    """
    # The project's lock orders this against a file deletion or a quota check at the same moment.
    lock_project(session, project_id)
    job = session.scalars(
        select(Job).where(
            Job.project_id == project_id,
            Job.status == JobStatus.SUCCEEDED,
            Job.fine_tuned_model == model_id,
            Job.model_deleted_at.is_(None),
        )
    ).first()
    if job is None or not _conditional_update(session, job.id, [Job.model_deleted_at.is_(None)], {"model_deleted_at": utcnow()}):
        raise NotFound("model", model_id)
    now = utcnow()
    deleted: list[File] = []
    for file_id in job.result_files or []:
        row = session.get(File, file_id)
        if row is None or row.deleted_at is not None or not any(kind.matches(row.filename) for kind in MODEL_WEIGHTS):
            continue
        row.deleted_at = now
        deleted.append(row)
    session.flush()
    add_event(session, job.id, f"Fine-tuned model deleted: {model_id}", data={"fine_tuned_model": model_id})
    return get_job_any(session, job.id), deleted


# --- pause and resume (the caller's side) -----------------------------------------------------------


def request_pause(session: Session, project_id: str, job_id: str) -> Job:
    """Pause as far as the job's state allows and return it (OpenAI's ``pause``).

    Queued (or validating): paused at once. Running: ``pause_requested`` is set; the worker stops at its
    next step, writes a checkpoint and marks the job paused (:func:`mark_paused`); until then the status
    stays ``running``. Already paused, or running with a pause or a cancel requested: unchanged.
    Finished: :class:`InvalidTransition` (nothing is left to pause).
    """
    for _ in range(3):  # a worker may change the status between our read and our update
        job = get_job(session, project_id, job_id)
        if job.status in (JobStatus.QUEUED, JobStatus.VALIDATING_FILES):
            values = {"status": JobStatus.PAUSED, "enqueued_at": None, "estimated_finish": None}
            if _conditional_update(session, job_id, [Job.status == job.status], values):
                add_event(session, job_id, "Job paused")
                return get_job(session, project_id, job_id)
        elif job.status == JobStatus.RUNNING:
            if job.pause_requested or job.cancel_requested:
                return job
            if _conditional_update(session, job_id, [Job.status == JobStatus.RUNNING], {"pause_requested": True}):
                add_event(session, job_id, "Pause requested; the job pauses at its next step, with a checkpoint")
                return get_job(session, project_id, job_id)
        elif job.status == JobStatus.PAUSED:
            return job
        else:
            raise InvalidTransition(job_id, f"cannot pause: the job is {job.status}")
    return get_job(session, project_id, job_id)


def resume_job(session: Session, project_id: str, job_id: str) -> tuple[Job, bool]:
    """Resume a paused job (OpenAI's ``resume``); returns ``(job, enqueue)``.

    Paused: queued again (``enqueue`` true: send its message after committing); any worker claims it and
    continues from its newest checkpoint. Running with a pause requested: the request is withdrawn.
    Queued or running: unchanged. Finished: :class:`InvalidTransition`.
    """
    for _ in range(3):
        job = get_job(session, project_id, job_id)
        if job.status == JobStatus.PAUSED:
            values = {"status": JobStatus.QUEUED, "enqueued_at": None}
            if _conditional_update(session, job_id, [Job.status == JobStatus.PAUSED], values):
                add_event(session, job_id, "Job resumed; queued to continue from its newest checkpoint")
                return get_job(session, project_id, job_id), True
        elif job.status == JobStatus.RUNNING and job.pause_requested:
            if _conditional_update(session, job_id, [Job.status == JobStatus.RUNNING], {"pause_requested": False}):
                add_event(session, job_id, "Pause withdrawn; the job keeps running")
                return get_job(session, project_id, job_id), False
        elif job.status in TERMINAL_STATUSES:
            raise InvalidTransition(job_id, f"cannot resume: the job is {job.status}")
        else:
            return job, False
    return get_job(session, project_id, job_id), False
