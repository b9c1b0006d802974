"""``/v1/fine_tuning/jobs``: create (idempotent), list, retrieve, cancel, pause, resume, events, checkpoints."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy.orm import Session

from api.cursors import bounded_page, parse_event_cursor
from api.deps import ProjectDep, SessionDep, StateDep
from api.errors import APIError
from api.job_requests import validate_job_request
from api.schemas import (
    CheckpointList,
    CheckpointObject,
    CreateJobRequest,
    FineTuningJob,
    JobEventList,
    JobEventObject,
    JobList,
)
from store import events as store_events
from store import files as store_files
from store import job_queries
from store import jobs as store_jobs
from store.errors import NotFound
from store.models import File, FileStatus
from store.projects import job_token_budget, job_wall_time_s, max_concurrent_jobs
from store.result_files import UPLOAD_PURPOSE

router = APIRouter(prefix="/v1/fine_tuning/jobs", tags=["fine-tuning"])

#: Longest ``Idempotency-Key`` accepted (the column's width).
MAX_IDEMPOTENCY_KEY = 256
_METADATA_QUERY = re.compile(r"^metadata\[(.+)\]$")


def _usable_file(session: Session, project_id: str, file_id: str, param: str) -> File:
    """The project's processed fine-tune file ``file_id``; 400 naming ``param`` otherwise (as OpenAI answers)."""
    try:
        row = store_files.get_file(session, project_id, file_id, param=param)
    except NotFound:
        raise APIError(400, f"Invalid {param}: no such file: {file_id}.", param=param, code="invalid_file") from None
    if row.purpose != UPLOAD_PURPOSE:
        raise APIError(
            400,
            f"Invalid {param}: file {file_id} has purpose {row.purpose!r}, not {UPLOAD_PURPOSE!r}.",
            param=param,
            code="invalid_file",
        )
    if row.status != FileStatus.PROCESSED:
        raise APIError(400, f"Invalid {param}: file {file_id} is {row.status}, not processed.", param=param, code="invalid_file")
    return row


@router.post("", response_model=FineTuningJob, summary="Create a fine-tuning job")
def create_job(
    body: CreateJobRequest,
    response: Response,
    project: ProjectDep,
    session: SessionDep,
    state: StateDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=MAX_IDEMPOTENCY_KEY)] = None,
) -> FineTuningJob:
    """Validate and queue a job. With ``Idempotency-Key``: the same key and body return the first job
    again (``Idempotent-Replayed: true``); the same key with another body is a 409."""
    validated = validate_job_request(body, state.settings)
    ceiling = state.settings.max_job_wall_time_s
    if body.wall_time_budget_s is not None and body.wall_time_budget_s > ceiling:
        raise APIError(
            400,
            f"wall_time_budget_s: at most {ceiling} seconds on this service (max_job_wall_time_s), got {body.wall_time_budget_s}.",
            param="wall_time_budget_s",
            code="invalid_value",
        )
    token_ceiling = state.settings.max_job_token_budget
    if body.token_budget is not None and body.token_budget > token_ceiling:
        raise APIError(
            400,
            f"token_budget: at most {token_ceiling} tokens on this service (max_job_token_budget), got {body.token_budget}.",
            param="token_budget",
            code="invalid_value",
        )
    training = _usable_file(session, project.id, body.training_file, "training_file")
    validation = _usable_file(session, project.id, body.validation_file, "validation_file") if body.validation_file else None
    job, created = store_jobs.create_job(
        session,
        project_id=project.id,
        model=validated.model,
        training_file_id=training.id,
        method=validated.method,
        validation_file_id=validation.id if validation else None,
        seed=body.seed,
        suffix=body.suffix,
        metadata=body.metadata,
        hyperparameters=validated.hyperparameters,
        method_settings=validated.method_settings,
        idempotency_key=idempotency_key,
        request_hash=store_jobs.request_fingerprint(body.model_dump(mode="json", exclude_unset=True))
        if idempotency_key
        else None,
        max_active_jobs=max_concurrent_jobs(project, state.settings.max_concurrent_jobs_per_project),
        wall_time_budget_s=job_wall_time_s(project, state.settings.job_wall_time_s, ceiling, body.wall_time_budget_s),
        token_budget=job_token_budget(project, state.settings.job_token_budget, token_ceiling, body.token_budget),
    )
    # Commit before enqueueing: a worker must never receive the id of a job it cannot read.
    session.commit()
    if created:
        # A broker failure is logged, not raised: the job is queued in the database and the reconciler sends it.
        state.queue.enqueue(job.id)
    else:
        response.headers["Idempotent-Replayed"] = "true"
    return FineTuningJob.from_row(job)


def _metadata_filter(request: Request) -> dict[str, str]:
    """``metadata[key]=value`` query parameters (OpenAI's list filter) as a dict."""
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        match = _METADATA_QUERY.match(name)
        if match:
            found[match.group(1)] = value
    return found


@router.get("", response_model=JobList, summary="List fine-tuning jobs")
def list_jobs(
    request: Request,
    project: ProjectDep,
    session: SessionDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JobList:
    """The project's jobs, newest first; ``after`` is the last job id seen; ``metadata[k]=v`` filters.
    A page stops before 1 MiB of JSON (``has_more`` true): go on from its last job's id."""
    rows, has_more = job_queries.list_jobs(
        session, project.id, after=after, limit=limit, metadata_filter=_metadata_filter(request)
    )
    data, has_more = bounded_page([FineTuningJob.from_row(job) for job in rows], has_more)
    return JobList(data=data, has_more=has_more)


@router.get("/{job_id}", response_model=FineTuningJob, summary="Retrieve a fine-tuning job")
def get_job(job_id: str, project: ProjectDep, session: SessionDep) -> FineTuningJob:
    """One of the project's jobs; another project's job is a 404."""
    return FineTuningJob.from_row(store_jobs.get_job(session, project.id, job_id))


@router.post("/{job_id}/cancel", response_model=FineTuningJob, summary="Cancel a fine-tuning job")
def cancel_job(job_id: str, project: ProjectDep, session: SessionDep) -> FineTuningJob:
    """Queued: cancelled at once. Running: the worker stops at its next step (``status`` stays ``running``
    until it does). Finished: returned unchanged."""
    job = store_jobs.request_cancel(session, project.id, job_id)
    session.commit()
    return FineTuningJob.from_row(job)


@router.post(
    "/{job_id}/pause",
    response_model=FineTuningJob,
    responses={409: {"description": "The job has finished (code invalid_state)"}},
    summary="Pause a fine-tuning job",
)
def pause_job(job_id: str, project: ProjectDep, session: SessionDep) -> FineTuningJob:
    """Queued: paused at once. Running: the worker stops at its next step, writes a checkpoint and marks the
    job ``paused`` (``status`` stays ``running`` until it does). Paused: unchanged. Finished: 409."""
    job = store_jobs.request_pause(session, project.id, job_id)
    session.commit()
    return FineTuningJob.from_row(job)


@router.post(
    "/{job_id}/resume",
    response_model=FineTuningJob,
    responses={409: {"description": "The job has finished (code invalid_state)"}},
    summary="Resume a paused fine-tuning job",
)
def resume_job(job_id: str, project: ProjectDep, session: SessionDep, state: StateDep) -> FineTuningJob:
    """Paused: queued again; any worker continues it from its newest checkpoint, every step once. Running
    with a pause requested: the request is withdrawn. Queued or running: unchanged. Finished: 409."""
    job, enqueue = store_jobs.resume_job(session, project.id, job_id)
    # Commit before enqueueing, as at creation: a worker must never receive a job it cannot claim.
    session.commit()
    if enqueue:
        state.queue.enqueue(job.id)
    return FineTuningJob.from_row(job)


@router.get("/{job_id}/events", response_model=JobEventList, summary="List a job's events")
def list_events(
    job_id: str,
    project: ProjectDep,
    session: SessionDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JobEventList:
    """The job's events newest first; ``after`` is the id (``ftevent-…``) of the last event seen."""
    store_jobs.get_job(session, project.id, job_id)
    cursor = parse_event_cursor(after, "after")
    rows, has_more = store_events.list_events(session, job_id, after=cursor, limit=limit)
    data, has_more = bounded_page([JobEventObject.from_row(event) for event in rows], has_more)
    return JobEventList(data=data, has_more=has_more)


@router.get("/{job_id}/checkpoints", response_model=CheckpointList, summary="List a job's checkpoints")
def list_checkpoints(
    job_id: str,
    project: ProjectDep,
    session: SessionDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> CheckpointList:
    """The job's checkpoints, newest step first; ``after`` is the last checkpoint id seen."""
    job = store_jobs.get_job(session, project.id, job_id)
    rows, has_more = store_events.list_checkpoints(session, job_id, after=after, limit=limit)
    data, has_more = bounded_page([CheckpointObject.from_row(row, job) for row in rows], has_more)
    return CheckpointList(
        data=data, has_more=has_more, first_id=data[0].id if data else None, last_id=data[-1].id if data else None
    )
