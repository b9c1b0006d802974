"""Publish a finished run: the metrics CSV, the adapter archive, the report, the rationales and (when asked
for) the merged model become files of the project.

The blobs are written first (each atomically); the file rows and the job's ``succeeded`` transition
then go in **one** transaction, so a job is never succeeded without its files, and a worker that dies
in between leaves no half-published job (the blobs it wrote are deleted, or at worst orphaned, never
listed). The adapter archive's size and SHA-256 are on its file row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from radis_core.events import JobResult
from radis_core.model_names import fine_tuned_model_name as model_name_of
from store import jobs as store_jobs
from store.artifacts import ArtifactStore, MiB, StoredBlob
from store.files import create_file
from store.ids import new_file_id
from store.models import FileStatus, Job, JobStatus
from store.result_files import (
    ADAPTER,
    FILES_PREFIX,
    MERGED,
    METRICS,
    REPORT,
    RESULT_PURPOSE,
    SAMPLES_BY_METHOD,
    adapter_root_name,
    merged_root_name,
)
from store.usage import record_run_seconds, record_tokens_used, record_work_bytes
from worker.spec import JobFacts
from worker.store_writes import in_transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Blob:
    file_id: str
    filename: str
    stored: StoredBlob
    n_examples: int | None = None


def fine_tuned_model_name(facts: JobFacts) -> str:
    """``ft:<base short name>:<suffix or 'radis'>:<job id>`` (:mod:`radis_core.model_names`)."""
    return model_name_of(facts.model, facts.suffix, facts.job_id)


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(MiB):
            yield chunk


def _store_file(artifacts: ArtifactStore, path: Path, filename: str) -> _Blob:
    file_id = new_file_id()
    stored = artifacts.save_stream(_chunks(path), max_bytes=path.stat().st_size, prefix=FILES_PREFIX, name=file_id)
    n_lines = None
    if filename.endswith(".jsonl"):
        with path.open("rb") as handle:
            n_lines = sum(1 for line in handle if line.strip())
    return _Blob(file_id, filename, stored, n_lines)


def publish_results(
    factory: sessionmaker[Session],
    artifacts: ArtifactStore,
    facts: JobFacts,
    worker_id: str,
    result: JobResult,
    default_max_storage_bytes: int | None = None,
    usage_totals: tuple[float, int] | None = None,
) -> Job:
    """Store the run's outputs as result files and mark the job succeeded; returns the job.

    ``usage_totals`` (run seconds, tokens used) are the run's final counts, written in the same transaction:
    the heartbeats write them only now and then, so a short run would otherwise end with an older figure.

    Raises :class:`store.errors.LostOwnership` (nothing is published then) and
    :class:`store.errors.QuotaExceeded` when the project's storage limit (its own, else
    ``default_max_storage_bytes``) leaves no room.
    """
    job_id = facts.job_id
    blobs: list[_Blob] = []
    try:
        # OpenAI clients read the metrics CSV from result_files[0]; the adapter comes next.
        if result.metrics_path is not None:
            blobs.append(_store_file(artifacts, Path(result.metrics_path), METRICS.filename(job_id)))
        adapter_id = new_file_id()
        archive = artifacts.publish_dir_as_tar_gz(
            result.adapter_dir, artifacts.new_key(FILES_PREFIX, adapter_id), root_name=adapter_root_name(job_id)
        )
        blobs.append(_Blob(adapter_id, ADAPTER.filename(job_id), archive))
        blobs.append(_store_file(artifacts, Path(result.report_path), REPORT.filename(job_id)))
        # The teacher's per-pair texts (rationales, rewrites, teacher translations); supervised has none.
        kind = SAMPLES_BY_METHOD.get(facts.method)
        if result.samples_path is not None and kind is not None:
            blobs.append(_store_file(artifacts, Path(result.samples_path), kind.filename(job_id)))
        # Last, so the other files keep their places in result_files whether or not a merged model was asked for.
        if result.merged_dir is not None:
            merged_id = new_file_id()
            merged = artifacts.publish_dir_as_tar_gz(
                Path(result.merged_dir), artifacts.new_key(FILES_PREFIX, merged_id), root_name=merged_root_name(job_id)
            )
            blobs.append(_Blob(merged_id, MERGED.filename(job_id), merged))

        def work(session: Session) -> Job:
            # The job's folder is removed once it ends: from here on its results count in its place.
            record_work_bytes(session, job_id, worker_id, 0)
            if usage_totals is not None:
                record_run_seconds(session, job_id, worker_id, usage_totals[0])
                record_tokens_used(session, job_id, worker_id, usage_totals[1])
            for blob in blobs:
                create_file(
                    session,
                    project_id=facts.project_id,
                    filename=blob.filename,
                    purpose=RESULT_PURPOSE,
                    nbytes=blob.stored.bytes,
                    sha256=blob.stored.sha256,
                    storage_key=blob.stored.key,
                    status=FileStatus.PROCESSED,
                    n_examples=blob.n_examples,
                    file_id=blob.file_id,
                    default_max_storage_bytes=default_max_storage_bytes,
                )
            return store_jobs.mark_succeeded(
                session,
                job_id,
                worker_id,
                fine_tuned_model=fine_tuned_model_name(facts),
                trained_tokens=int(result.trained_tokens),
                result_files=[blob.file_id for blob in blobs],
            )

        return in_transaction(factory, work)
    except BaseException:
        if blobs and _already_published(factory, job_id, [blob.file_id for blob in blobs]):
            # The commit went through but its answer was lost (the retry then hit the rows it made).
            return in_transaction(factory, lambda s: store_jobs.get_job_any(s, job_id))
        for blob in blobs:
            artifacts.delete(blob.stored.key)
        raise


def _already_published(factory: sessionmaker[Session], job_id: str, file_ids: list[str]) -> bool:
    try:
        job = in_transaction(factory, lambda s: store_jobs.get_job_any(s, job_id))
    except Exception:
        return False
    return job.status == JobStatus.SUCCEEDED and list(job.result_files or []) == file_ids
