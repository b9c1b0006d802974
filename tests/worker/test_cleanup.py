"""Storage stays bounded and counted (issue 13), on real Postgres, the artifact store and the tiny model:
a job's folder goes once the job ends while its results stay downloadable, and upload → job → delete
cycles leave only the results on disk, every byte of them counted in the project's usage."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.artifacts import ArtifactStore
from store.db import session_scope
from store.errors import FileInUse
from store.files import delete_file
from store.jobs import claim_job, create_job, release_job, request_cancel
from store.models import File
from store.projects import create_project
from store.settings import Settings
from store.usage import record_work_bytes, storage_usage
from worker.queue import JobQueue
from worker.reconciler import reconcile_once
from worker.runner import process_job

from .conftest import TINY_HYPERPARAMETERS, load_job, store_corpus

pytestmark = pytest.mark.timeout(300)

#: A supervised job of 2 steps with a checkpoint after step 1, without the retention benchmarks.
QUICK_SETTINGS = {"evaluation": {"max_new_tokens": 8, "holdout_fraction": 0.25, "batch_size": 8, "retention": False}}


def _disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _corpus(cycle: int) -> bytes:
    """16 German→English pairs, different bytes in every cycle (as separate uploads would be)."""
    rows = [
        {
            "source": f"Anna kauft {i} Äpfel ({cycle}).",
            "target": f"Anna buys {i} apples ({cycle}).",
            "src_lang": "de",
            "tgt_lang": "en",
        }
        for i in range(16)
    ]
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def _new_job(factory: sessionmaker[Session], project_id: str, file_id: str, model: str) -> str:
    with session_scope(factory) as session:
        job, _ = create_job(
            session,
            project_id=project_id,
            model=model,
            method="supervised",
            training_file_id=file_id,
            hyperparameters={**TINY_HYPERPARAMETERS, "max_steps": 2},
            method_settings=QUICK_SETTINGS,
            seed=7,
        )
        return job.id


def test_upload_job_delete_cycles_keep_the_disk_bounded_and_every_byte_counted(
    factory: sessionmaker[Session],
    artifacts: ArtifactStore,
    worker_settings: Settings,
    tiny_model_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="worker.cleanup")
    with session_scope(factory) as session:
        project_id = create_project(session, "cycles").id
    results: list[File] = []
    disk_after: list[int] = []
    for cycle in range(3):
        file_id = store_corpus(factory, artifacts, project_id, _corpus(cycle), f"train-{cycle}.jsonl")
        job_id = _new_job(factory, project_id, file_id, str(tiny_model_dir))
        with session_scope(factory) as session, pytest.raises(FileInUse):  # a queued job's file stays
            delete_file(session, project_id, file_id)

        assert process_job(factory, artifacts, worker_settings, job_id, "worker-a") == "succeeded"
        job = load_job(factory, job_id)
        # The folder (two checkpoints' worth of adapter, optimizer and RNG state) is gone, and counts no more.
        assert not artifacts.path(f"jobs/{job_id}").exists()
        assert job.work_bytes == 0 and job.work_cleaned_at is not None

        with session_scope(factory) as session:  # what DELETE /v1/files/{id} does
            row = delete_file(session, project_id, file_id)
        artifacts.delete(row.storage_key)

        with session_scope(factory) as session:
            results += list(session.scalars(select(File).where(File.id.in_(job.result_files))))
            used = storage_usage(session, project_id)
        disk_after.append(_disk_bytes(artifacts.root))
        # On disk: the results of the jobs so far, nothing else; and the project is charged exactly that.
        assert disk_after[-1] == used.total == sum(r.bytes for r in results), (cycle, disk_after, used)

    # The results stay downloadable, byte for byte.
    for row in results:
        blob = artifacts.path(row.storage_key).read_bytes()
        assert hashlib.sha256(blob).hexdigest() == row.sha256
    freed = [int(m) for m in re.findall(r"\((\d+) bytes freed\)", caplog.text)]
    assert len(freed) == 3 and min(freed) > 0
    growth = [b - a for a, b in zip([0, *disk_after], disk_after, strict=False)]
    print(f"disk after each cycle: {disk_after}; growth per cycle {growth}; job folders removed: {freed} bytes")
    # Each cycle adds its results only: far less than the folder it removed.
    assert max(growth) < min(freed)


def test_the_reconciler_removes_the_folder_of_a_job_that_ended_without_its_worker(
    factory: sessionmaker[Session], artifacts: ArtifactStore, worker_settings: Settings, make_job
) -> None:
    """A job handed back to the queue (its folder holds a checkpoint) and then cancelled while queued ends
    without a worker to clean up after it; the reconciler's sweep does."""
    job_id = make_job(method="supervised")
    project_id = load_job(factory, job_id).project_id
    folder = artifacts.job_dir(job_id) / "work" / "checkpoints" / "step-00000001"
    folder.mkdir(parents=True)
    (folder / "adapter.safetensors").write_bytes(b"x" * 50_000)
    with session_scope(factory) as session:
        claim_job(session, job_id, "worker-a")
        record_work_bytes(session, job_id, "worker-a", artifacts.job_dir_bytes(job_id))
        release_job(session, job_id, "worker-a", "shutting down")
    with session_scope(factory) as session:
        before = storage_usage(session, project_id)
        request_cancel(session, project_id, job_id)
    assert before.work_bytes == 50_000

    counts = reconcile_once(factory, worker_settings, JobQueue(factory, send=lambda job: None), artifacts=artifacts)
    assert counts["cleaned"] >= 1
    assert not artifacts.path(f"jobs/{job_id}").exists()
    with session_scope(factory) as session:
        assert storage_usage(session, project_id).total == before.total - 50_000
    assert load_job(factory, job_id).work_cleaned_at is not None
