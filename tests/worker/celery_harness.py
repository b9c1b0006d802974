"""A real ``celery -A worker.app worker`` subprocess for integration tests, always stopped afterwards."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from radis_cli.demo import stop_process_group
from store.models import Job
from store.settings import Settings

from .conftest import load_job

REPO_ROOT = Path(__file__).resolve().parents[2]


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a worker process read ``settings`` (``RADIS_*`` variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADIS_")}
    env.update(
        RADIS_DATA_DIR=str(settings.data_dir),
        RADIS_DATABASE_URL=settings.database_url,
        RADIS_BROKER_URL=settings.broker_url,
        RADIS_RESULT_BACKEND=settings.result_backend,
        RADIS_CACHE_DIR=str(settings.cache_dir),
        RADIS_HEARTBEAT_INTERVAL_S=str(settings.heartbeat_interval_s),
        RADIS_STALE_AFTER_S=str(settings.stale_after_s),
        # No metrics port unless the test asks for one: workers of concurrent tests would race for 9101.
        RADIS_WORKER_METRICS_PORT=str(settings.worker_metrics_port)
        if "worker_metrics_port" in settings.model_fields_set
        else "0",
        # Two cores are shared by everything on a test machine; a job of the tiny model needs one.
        OMP_NUM_THREADS="1",
    )
    return env


@contextmanager
def celery_worker(settings: Settings, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``celery -A worker.app worker -Q gpu -c 1 --pool prefork`` with ``settings`` until the block ends.

    The worker runs in its own process group (its pool children included), which is always stopped.
    """
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker.app",
        "worker",
        "-Q",
        "gpu",
        "-c",
        "1",
        "--pool",
        "prefork",
        "--loglevel",
        "INFO",
        "--hostname",
        f"radis-test-{secrets.token_hex(3)}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=worker_env(settings), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            stop_process_group(process)


def log_tail(log_path: Path, lines: int = 60) -> str:
    """The end of the worker's log, for assertion messages."""
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no worker log)"


def wait_until_finished(
    factory: sessionmaker[Session], job_id: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 240.0
) -> Job:
    """Poll the store until the job is terminal; fail with the worker's log if it is not, or the worker died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = load_job(factory, job_id)
        if job.is_terminal:
            return job
        if process.poll() is not None:
            raise AssertionError(f"the worker exited with {process.returncode}:\n{log_tail(log_path)}")
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} still {load_job(factory, job_id).status} after {timeout} s:\n{log_tail(log_path)}")


def enqueue_and_reconcile_through_a_real_worker(
    factory: sessionmaker[Session], settings: Settings, make_job, log_path: Path
) -> tuple[Job, Job]:
    """The scenario both integration tests run: a job enqueued after commit, and a job never enqueued
    that the reconciler sends, each run to ``succeeded`` by a real worker; returns both jobs."""
    from worker.queue import JobQueue
    from worker.reconciler import reconcile_once

    queue = JobQueue(factory, settings)  # the API's side: the same settings, its own Celery app
    sent = make_job(method="radis", method_settings={"evaluation": {"retention": False}})
    forgotten = make_job(
        method="supervised", hyperparameters={"max_steps": 1}, method_settings={"evaluation": {"retention": False}}
    )
    with celery_worker(settings, log_path) as process:
        assert queue.enqueue(sent), log_tail(log_path)
        first = wait_until_finished(factory, sent, process, log_path)
        assert first.status == "succeeded", f"{first.error_code}: {first.error_message}\n{log_tail(log_path)}"

        counts = reconcile_once(factory, settings, queue, unsent_grace_s=0.0)
        assert counts == {"queued": 1, "stale": 0, "errors": 0}
        second = wait_until_finished(factory, forgotten, process, log_path)
        assert second.status == "succeeded", f"{second.error_code}: {second.error_message}\n{log_tail(log_path)}"
    return first, second


def worker_pid(job: Job) -> int:
    """The pid part of a worker id (``host:pid:random``)."""
    return int(job.worker_id.split(":")[-2])
