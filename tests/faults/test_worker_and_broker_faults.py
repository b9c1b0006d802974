"""Faults 1 and 2 with real Celery workers on Redis and Postgres, on the tiny model.

1. The worker is SIGKILLed (its whole process group, parent and child) in the middle of training. A
   new worker, sent the job by the reconciler once its heartbeat is stale, resumes it from its newest
   checkpoint. The job's step events are 1..N once each (a step trained again after the resume keeps its first event;
   none skipped), and its final loss and adapter match an uninterrupted run of the same job.
2. The broker's database is flushed while two jobs wait in the queue and one runs: their messages are
   gone. The reconciler sends them again from the store, and every job finishes.
"""

from __future__ import annotations

import os
import signal
import tarfile
import time
from pathlib import Path

import pytest
import redis
from safetensors.numpy import load as load_safetensors
from sqlalchemy.orm import Session, sessionmaker

from store import files as store_files
from store.artifacts import ArtifactStore
from store.db import session_scope
from store.settings import Settings
from tests.worker.celery_harness import celery_worker, log_tail, wait_until_finished
from tests.worker.conftest import job_events, load_job
from worker.queue import JobQueue
from worker.reconciler import reconcile_once
from worker.runner import process_job

from .conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

#: 12 training pairs, batch 4, 3 epochs: 9 steps, a checkpoint every 2.
LONG_JOB = {
    "method": "supervised",
    "hyperparameters": {"n_epochs": 3, "checkpoint_every": 2, "keep_checkpoints": 10},
    "method_settings": {"evaluation": {"retention": False}},
}


def fault_settings(worker_settings: Settings, broker: str) -> Settings:
    return Settings(
        data_dir=worker_settings.data_dir,
        database_url=worker_settings.database_url,
        broker_url=broker,
        result_backend=broker,
        cache_dir=worker_settings.cache_dir,
        heartbeat_interval_s=0.5,
        stale_after_s=3.0,
    )


def training_steps(factory: sessionmaker[Session], job_id: str) -> list[tuple[int, float]]:
    return [
        (e.data["step"], e.data["train_loss"])
        for e in job_events(factory, job_id)
        if e.type == "metrics" and e.data and "train_loss" in e.data
    ]


def adapter_tensors(factory: sessionmaker[Session], artifacts: ArtifactStore, job_id: str) -> dict:
    job = load_job(factory, job_id)
    with session_scope(factory) as session:
        row = store_files.get_file(session, job.project_id, job.result_files[1])  # [0] is the metrics CSV
        key = row.storage_key
    with tarfile.open(artifacts.path(key), "r:gz") as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("adapter_model.safetensors"))
        return load_safetensors(archive.extractfile(member).read())


def test_a_sigkilled_worker_is_replaced_and_the_job_resumes_from_its_checkpoint_to_the_same_result(
    factory: sessionmaker[Session],
    artifacts: ArtifactStore,
    worker_settings: Settings,
    redis_db_url: str,
    make_job,
    tmp_path: Path,
) -> None:
    settings = fault_settings(worker_settings, redis_db_url)
    queue = JobQueue(factory, settings)
    reference = make_job(**LONG_JOB)
    interrupted = make_job(**LONG_JOB)
    log = tmp_path / "worker.log"

    with celery_worker(settings, log) as first_worker:
        assert queue.enqueue(interrupted)
        # Kill after the step-2 checkpoint was recorded and step 3 is under way or done.
        wait_for(lambda: any(step >= 3 for step, _ in training_steps(factory, interrupted)), 240, "step 3")
        os.killpg(first_worker.pid, signal.SIGKILL)
        first_worker.wait(10)
    killed_at = max(step for step, _ in training_steps(factory, interrupted))
    assert load_job(factory, interrupted).status == "running"  # nobody told the store: the worker just vanished

    with celery_worker(settings, log) as second_worker:
        time.sleep(settings.stale_after_s + 0.5)
        counts = reconcile_once(factory, settings, queue)
        assert counts["stale"] == 1, counts
        job = wait_until_finished(factory, interrupted, second_worker, log)
    assert job.status == "succeeded", f"{job.error_code}: {job.error_message}\n{log_tail(log)}"
    assert job.attempts == 2

    # The same job, never interrupted, in this process.
    assert process_job(factory, artifacts, worker_settings, reference, "reference-worker") == "succeeded"

    messages = [e.message for e in job_events(factory, interrupted)]
    resumed = [m for m in messages if m.startswith("Resumed from checkpoint at step")]
    assert len(resumed) == 1, messages
    resumed_at = int(resumed[0].rsplit(" ", 1)[1])
    assert 2 <= resumed_at <= killed_at
    steps = training_steps(factory, interrupted)
    max_steps = job.resolved_hyperparameters["max_steps"]
    # One event per step (issue 13): the steps the second worker trained again after the checkpoint
    # (resumed_at + 1 .. killed_at) keep the first worker's event; the loss curve has no duplicate point.
    assert [s for s, _ in steps] == list(range(1, max_steps + 1)), steps
    lineage = steps

    expected = training_steps(factory, reference)
    assert [s for s, _ in expected] == list(range(1, max_steps + 1))
    assert lineage[-1][1] == pytest.approx(expected[-1][1], rel=1e-4), (lineage, expected)
    tuned, uninterrupted = adapter_tensors(factory, artifacts, interrupted), adapter_tensors(factory, artifacts, reference)
    assert tuned.keys() == uninterrupted.keys()
    for name in tuned:
        assert abs(tuned[name] - uninterrupted[name]).max() <= 1e-4 * max(1.0, abs(uninterrupted[name]).max()), name


def test_a_flushed_broker_loses_no_job(
    factory: sessionmaker[Session], worker_settings: Settings, redis_db_url: str, make_job, tmp_path: Path
) -> None:
    settings = fault_settings(worker_settings, redis_db_url)
    queue = JobQueue(factory, settings)
    running = make_job(**{**LONG_JOB, "hyperparameters": {"n_epochs": 2}})
    waiting = [
        make_job(method="supervised", hyperparameters={"max_steps": 1}, method_settings={"evaluation": {"retention": False}})
        for _ in range(2)
    ]
    log = tmp_path / "worker.log"
    broker = redis.Redis.from_url(redis_db_url)

    with celery_worker(settings, log) as worker:
        assert queue.enqueue(running)
        wait_for(lambda: load_job(factory, running).status == "running", 120, "the first job to start")
        for job_id in waiting:
            assert queue.enqueue(job_id)
        assert broker.llen("gpu") == 2  # the worker (one slot, prefetch 1) holds only the running one
        broker.flushdb()
        assert broker.dbsize() == 0

        first = wait_until_finished(factory, running, worker, log)
        assert first.status == "succeeded", f"{first.error_code}: {first.error_message}\n{log_tail(log)}"
        time.sleep(2)
        assert [load_job(factory, j).status for j in waiting] == ["queued", "queued"]  # the doorbell is gone

        # Thresholds 0: the test cannot wait the production 10 minutes before presuming them lost.
        counts = reconcile_once(factory, settings, queue, requeue_after_s=0.0, unsent_grace_s=0.0)
        assert counts == {"queued": 2, "stale": 0, "errors": 0}
        for job_id in waiting:
            job = wait_until_finished(factory, job_id, worker, log)
            assert job.status == "succeeded", f"{job.error_code}: {job.error_message}\n{log_tail(log)}"
            assert job.attempts == 1
