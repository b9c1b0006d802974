"""Extensions over OpenAI's API: a finished job's adapter download, evaluation report and rationale sample.

All three are result files of the job (``job.result_files``), told apart by the name the worker gives
them (:mod:`store.result_files`). Being files of the project, they are also reachable as
``GET /v1/files/{id}/content``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import StreamingResponse

from api.blobs import blob_response
from api.deps import ArtifactsDep, ProjectDep, SessionDep
from api.errors import SERVER_ERROR, APIError
from api.schemas import RationaleSampleList
from store import files as store_files
from store import jobs as store_jobs
from store.artifacts import ArtifactStore
from store.errors import NotFound
from store.models import File
from store.result_files import ADAPTER, RATIONALES, REPORT, SAMPLES_BY_METHOD, ResultKind

router = APIRouter(prefix="/v1/fine_tuning/jobs", tags=["results"])

#: Largest report the API parses (reports are a few kB; this bounds memory against a corrupt blob).
MAX_REPORT_BYTES = 16 * 1024 * 1024


def result_file(session: Session, project_id: str, job_id: str, kind: ResultKind) -> File:
    """The job's result file of ``kind``; 404 (saying why) when there is none."""
    job = store_jobs.get_job(session, project_id, job_id)
    for file_id in job.result_files or []:
        try:
            row = store_files.get_file(session, project_id, file_id)
        except NotFound:
            continue  # deleted by the caller
        if kind.matches(row.filename):
            return row
    if job.status != "succeeded":
        state = "it has not succeeded"
    elif job.model_deleted_at is not None:
        state = f"its model {job.fine_tuned_model} was deleted"
    else:
        state = "it has none (or it was deleted)"
    raise APIError(
        404,
        f"Fine-tuning job {job_id} has no {kind.label}: {state} (status {job.status}).",
        code="result_not_available",
    )


# HEAD: the same headers (size, ETag, SHA-256, Accept-Ranges) without the bytes; not a separate operation.
@router.head("/{job_id}/adapter", include_in_schema=False)
@router.get(
    "/{job_id}/adapter",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/gzip": {}}}, 206: {"description": "A byte range of the archive"}},
    summary="Download the trained adapter (tar.gz)",
)
def download_adapter(
    job_id: str, request: Request, project: ProjectDep, session: SessionDep, artifacts: ArtifactsDep
) -> StreamingResponse:
    """The PEFT adapter as a tar.gz, with ``Content-Length``, ``X-Content-SHA256`` and ``Range`` support."""
    row = result_file(session, project.id, job_id, ADAPTER)
    return blob_response(
        request, artifacts, row.storage_key, sha256=row.sha256, filename=row.filename, media_type="application/gzip"
    )


def _read_report(artifacts: ArtifactStore, row: File) -> dict[str, Any]:
    if row.bytes > MAX_REPORT_BYTES:
        raise APIError(500, "The evaluation report is too large to serve inline.", type=SERVER_ERROR, code="report_too_large")
    with artifacts.open(row.storage_key) as handle:
        try:
            return json.load(handle)
        except ValueError:
            raise APIError(
                500, "The stored evaluation report is not valid JSON.", type=SERVER_ERROR, code="report_corrupt"
            ) from None


@router.get("/{job_id}/report", summary="The evaluation report (base vs tuned)")
def get_report(job_id: str, project: ProjectDep, session: SessionDep, artifacts: ArtifactsDep) -> dict[str, Any]:
    """Translation quality and general-ability retention of the base and the tuned model, as JSON."""
    return _read_report(artifacts, result_file(session, project.id, job_id, REPORT))


@router.get(
    "/{job_id}/rationales",
    response_model=RationaleSampleList,
    summary="A sample of what the teacher generated: rationales (radis), rewrites (sdft) or translations (seqkd)",
)
def sample_rationales(
    job_id: str,
    project: ProjectDep,
    session: SessionDep,
    artifacts: ArtifactsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> RationaleSampleList:
    """The first ``limit`` records of the job's per-pair teacher texts (read line by line, never whole)."""
    job = store_jobs.get_job(session, project.id, job_id)
    row = result_file(session, project.id, job_id, SAMPLES_BY_METHOD.get(job.method, RATIONALES))
    data: list[dict[str, Any]] = []
    has_more = False
    with artifacts.open(row.storage_key) as handle:
        for raw in handle:
            if not raw.strip():
                continue
            if len(data) == limit:
                has_more = True
                break
            try:
                record = json.loads(raw)
            except ValueError:
                raise APIError(
                    500, "The stored rationales file is not valid JSON Lines.", type=SERVER_ERROR, code="rationales_corrupt"
                ) from None
            data.append(record if isinstance(record, dict) else {"value": record})
    return RationaleSampleList(data=data, has_more=has_more)
