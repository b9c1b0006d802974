"""``/v1/files``: upload (streamed and validated), list, get, download, delete."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from api.blobs import blob_response
from api.cursors import bounded_page
from api.deps import ArtifactsDep, ProjectDep, SessionDep, StateDep
from api.errors import APIError
from api.schemas import FileDeleted, FileList, FileObject
from api.uploads import FORM_OVERHEAD_BYTES, receive_upload
from radis_core.corpus import ValidationReport, validate_corpus
from store import files as store_files
from store.artifacts import ArtifactStore, TooLarge
from store.db import session_scope
from store.ids import new_file_id
from store.models import FileStatus
from store.result_files import FILES_PREFIX, UPLOAD_PURPOSES

router = APIRouter(prefix="/v1/files", tags=["files"])


def _validate_blob(artifacts: ArtifactStore, key: str, filename: str | None) -> ValidationReport:
    with artifacts.local_copy(key) as path:
        return validate_corpus(path, filename=filename)


def _corpus_error(report: ValidationReport) -> APIError:
    """400 naming the first bad line, with the whole report under ``details``."""
    first = report.first_error
    assert first is not None
    where = f"training file {first.message}" if first.line is not None else f"training file: {first.message}"
    more = report.n_errors - 1
    suffix = f" ({more} more error{'s' * (more != 1)} in details)" if more > 0 else ""
    return APIError(400, where + suffix, param="file", code=first.code, details=report.to_dict())


@router.post("", response_model=FileObject, summary="Upload a training or validation file")
async def upload_file(request: Request, project: ProjectDep, state: StateDep) -> FileObject:
    """Stream the ``file`` part to storage (413 past ``max_upload_bytes``), validate it as a parallel
    corpus (400 naming the first bad line; nothing kept), and record it as ``processed``.

    No database session (nor a slot of the app's :class:`~api.deps.DatabaseGate`) is held while the
    body streams in: the key was checked before (:mod:`api.admission`), and the row is written in a
    short session of its own at the end. A slow client holds a socket, never a connection."""
    settings, artifacts = state.settings, state.artifacts
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes + FORM_OVERHEAD_BYTES:
        # Refuse before reading a byte; the streamed count below still catches bodies that lie.
        raise TooLarge(settings.max_upload_bytes)
    file_id = new_file_id()
    received = await receive_upload(
        request.stream(),
        request.headers.get("content-type"),
        artifacts,
        max_bytes=settings.max_upload_bytes,
        prefix=FILES_PREFIX,
        name=file_id,
        allowed_fields=frozenset({"purpose"}),
    )
    blob = received.blob
    try:
        purpose = received.fields.get("purpose")
        if purpose is None:
            raise APIError(400, "Missing required parameter: 'purpose'.", param="purpose", code="missing_required_parameter")
        if purpose not in UPLOAD_PURPOSES:
            raise APIError(
                400,
                f"Invalid value for 'purpose': {purpose[:64]!r}; this service accepts {', '.join(UPLOAD_PURPOSES)}.",
                param="purpose",
                code="invalid_value",
            )
        # The caller's filename picks the format (by extension) and is shown back; it never names a path.
        # A local path: the blob itself, or a temporary copy when the blobs live in a bucket.
        report = await run_in_threadpool(_validate_blob, artifacts, blob.key, received.filename)
        if not report.ok:
            raise _corpus_error(report)

        def record() -> FileObject:
            with session_scope(state.session_factory) as session:
                return FileObject.from_row(
                    store_files.create_file(
                        session,
                        project_id=project.id,
                        filename=received.filename,
                        purpose=purpose,
                        nbytes=blob.bytes,
                        sha256=blob.sha256,
                        storage_key=blob.key,
                        status=FileStatus.PROCESSED,
                        validation=report.to_dict(),
                        n_examples=report.n_pairs,
                        file_id=file_id,
                        default_max_storage_bytes=settings.max_storage_bytes_per_project,
                    )
                )

        assert state.db_gate is not None
        async with state.db_gate.slot():
            return await run_in_threadpool(record)
    except BaseException:
        # Nothing half-stored: a refused or unrecorded upload leaves no blob behind.
        artifacts.delete(blob.key)
        raise


@router.get("", response_model=FileList, summary="List files")
def list_files(
    project: ProjectDep,
    session: SessionDep,
    purpose: str | None = None,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
    order: Literal["asc", "desc"] = "desc",
) -> FileList:
    """The project's files, newest first (``order=asc`` for oldest first); ``after`` is a file id cursor."""
    rows, has_more = store_files.list_files(session, project.id, purpose=purpose, after=after, limit=limit, order=order)
    data, has_more = bounded_page([FileObject.from_row(row) for row in rows], has_more)
    return FileList(data=data, has_more=has_more, first_id=data[0].id if data else None, last_id=data[-1].id if data else None)


@router.get("/{file_id}", response_model=FileObject, summary="Retrieve a file")
def get_file(file_id: str, project: ProjectDep, session: SessionDep) -> FileObject:
    """One of the project's files; another project's file is a 404."""
    return FileObject.from_row(store_files.get_file(session, project.id, file_id))


# HEAD: the same headers (size, ETag, SHA-256, Accept-Ranges) without the bytes; not a separate operation.
@router.head("/{file_id}/content", include_in_schema=False)
@router.get(
    "/{file_id}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "A byte range of the content"}},
    summary="Download a file's content",
)
def file_content(
    file_id: str, request: Request, project: ProjectDep, session: SessionDep, artifacts: ArtifactsDep
) -> StreamingResponse:
    """The file's bytes, streamed (``Range`` supported); also how a job's result files are downloaded."""
    row = store_files.get_file(session, project.id, file_id)
    return blob_response(request, artifacts, row.storage_key, sha256=row.sha256, filename=row.filename)


@router.delete(
    "/{file_id}",
    response_model=FileDeleted,
    responses={409: {"description": "A queued or running job uses the file (code file_in_use)"}},
    summary="Delete a file",
)
def delete_file(file_id: str, project: ProjectDep, session: SessionDep, artifacts: ArtifactsDep) -> FileDeleted:
    """Delete the file and its bytes. A file that a queued or running job trains or validates on is not
    deleted: 409 ``file_in_use`` naming the jobs (cancel them, or wait until they end)."""
    row = store_files.delete_file(session, project.id, file_id)
    session.commit()
    artifacts.delete(row.storage_key)
    return FileDeleted(id=row.id)
