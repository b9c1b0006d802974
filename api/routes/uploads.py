"""``/v1/uploads``: OpenAI's Uploads API, for corpora larger than one request may carry.

Create an upload with its exact size, send its parts (``data``, up to :data:`MAX_PART_BYTES` each, streamed
to storage as ``POST /v1/files`` streams), then complete it with the parts in order: their blobs are read
back one range at a time into one new blob (memory stays bounded whatever the size), which is validated
as a corpus and recorded as a file, as an upload through ``/v1/files`` would be. Cancel drops the parts.
Only the public methods of the artifact store are used, so any backend serves it.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import ArtifactsDep, ProjectDep, SessionDep, StateDep
from api.errors import APIError
from api.routes.files import _corpus_error, _validate_blob
from api.upload_schemas import CompleteUploadRequest, CreateUploadRequest, UploadObject, UploadPartObject
from api.uploads import receive_upload
from store import files as store_files
from store import uploads as store_uploads
from store.artifacts import ArtifactStore, MiB
from store.db import session_scope
from store.ids import new_file_id, new_id
from store.models import FileStatus, UploadPart
from store.result_files import FILES_PREFIX, UPLOAD_PURPOSES

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])

#: Largest part (OpenAI's limit).
MAX_PART_BYTES = 64 * MiB
#: An upload not completed within this time expires (OpenAI: one hour).
UPLOAD_LIFETIME_S = 3600
#: Artifact key prefix of the parts' blobs (deleted once the upload completes or is cancelled).
PARTS_PREFIX = "upload-parts"


def _rejected(exc: store_uploads.UploadRejected) -> APIError:
    return APIError(400, str(exc), param=exc.param, code="invalid_value")


@router.post("", response_model=UploadObject, summary="Create an upload")
def create_upload(body: CreateUploadRequest, project: ProjectDep, session: SessionDep, state: StateDep) -> UploadObject:
    """A pending upload of exactly ``bytes`` (checked against the project's storage quota now)."""
    if body.purpose not in UPLOAD_PURPOSES:
        raise APIError(
            400,
            f"Invalid value for 'purpose': {body.purpose!r}; this service accepts {', '.join(UPLOAD_PURPOSES)}.",
            param="purpose",
            code="invalid_value",
        )
    try:
        upload = store_uploads.create_upload(
            session,
            project_id=project.id,
            filename=body.filename,
            purpose=body.purpose,
            nbytes=body.bytes,
            mime_type=body.mime_type,
            expires_after_s=UPLOAD_LIFETIME_S,
            default_max_storage_bytes=state.settings.max_storage_bytes_per_project,
        )
    except store_uploads.UploadRejected as exc:
        raise _rejected(exc) from None
    session.commit()
    return UploadObject.from_row(upload)


@router.post("/{upload_id}/parts", response_model=UploadPartObject, summary="Add a part to an upload")
async def add_part(upload_id: str, request: Request, project: ProjectDep, state: StateDep) -> UploadPartObject:
    """Stream the ``data`` part to storage: at most 64 MiB, and never past the upload's announced size."""
    with session_scope(state.session_factory) as session:
        room = store_uploads.room_left(session, project.id, upload_id)
    if room <= 0:
        raise APIError(400, f"Upload {upload_id} has received all its bytes; complete it.", param="data", code="invalid_value")
    received = await receive_upload(
        request.stream(),
        request.headers.get("content-type"),
        state.artifacts,
        max_bytes=min(MAX_PART_BYTES, room),
        prefix=PARTS_PREFIX,
        name=new_id("part-"),
        allowed_fields=frozenset(),
        file_field="data",
    )
    blob = received.blob

    def record() -> UploadPartObject:
        with session_scope(state.session_factory) as session:
            part = store_uploads.add_part(
                session, project.id, upload_id, storage_key=blob.key, nbytes=blob.bytes, sha256=blob.sha256
            )
            return UploadPartObject.from_row(part)

    try:
        return await run_in_threadpool(record)
    except store_uploads.UploadRejected as exc:
        state.artifacts.delete(blob.key)
        raise _rejected(exc) from None
    except BaseException:
        state.artifacts.delete(blob.key)
        raise


def _concatenated(artifacts: ArtifactStore, parts: list[UploadPart]) -> Iterator[bytes]:
    """The parts' bytes in order, a range at a time: never a whole part in memory."""
    for part in parts:
        yield from artifacts.iter_range(part.storage_key)


@router.post("/{upload_id}/complete", response_model=UploadObject, summary="Complete an upload")
def complete_upload(
    upload_id: str,
    project: ProjectDep,
    session: SessionDep,
    state: StateDep,
    artifacts: ArtifactsDep,
    body: CompleteUploadRequest | None = None,
) -> UploadObject:
    """Join the parts in the order given into a file, validated as a corpus (400 naming the first bad line;
    the upload stays pending to be completed again, or cancelled)."""
    # The upload first: another project's upload is a 404 whatever the body (hence the optional body).
    store_uploads.get_upload(session, project.id, upload_id)
    if body is None:
        raise APIError(400, "Missing required parameter: 'part_ids'.", param="part_ids", code="missing_required_parameter")
    try:
        parts = store_uploads.parts_to_complete(session, project.id, upload_id, body.part_ids)
    except store_uploads.UploadRejected as exc:
        raise _rejected(exc) from None
    upload = store_uploads.get_upload(session, project.id, upload_id)
    file_id = new_file_id()
    blob = artifacts.save_stream(_concatenated(artifacts, parts), max_bytes=upload.bytes, prefix=FILES_PREFIX, name=file_id)
    try:
        report = _validate_blob(artifacts, blob.key, upload.filename)
        if not report.ok:
            raise _corpus_error(report)
        row = store_files.create_file(
            session,
            project_id=project.id,
            filename=upload.filename,
            purpose=upload.purpose,
            nbytes=blob.bytes,
            sha256=blob.sha256,
            storage_key=blob.key,
            status=FileStatus.PROCESSED,
            validation=report.to_dict(),
            n_examples=report.n_pairs,
            file_id=file_id,
            default_max_storage_bytes=state.settings.max_storage_bytes_per_project,
        )
        upload, done = store_uploads.complete_upload(session, project.id, upload_id, row)
        session.commit()
    except BaseException:
        artifacts.delete(blob.key)
        raise
    for part in done:  # after the commit: a failed commit keeps the parts for another try
        artifacts.delete(part.storage_key)
    return UploadObject.from_row(upload, row)


@router.post("/{upload_id}/cancel", response_model=UploadObject, summary="Cancel an upload")
def cancel_upload(upload_id: str, project: ProjectDep, session: SessionDep, artifacts: ArtifactsDep) -> UploadObject:
    """Cancel a pending upload; its parts are deleted."""
    upload, parts = store_uploads.cancel_upload(session, project.id, upload_id)
    session.commit()
    for part in parts:
        artifacts.delete(part.storage_key)
    return UploadObject.from_row(upload)
