"""Issue 13, items 4 and 5, with real processes on Postgres and Redis, driven the way the attack did.

4. A job that kills its worker (SIGKILL as it loads its model, as the out-of-memory killer would) is
   taken over after each stale timeout only until it was started ``max_attempts`` times, then fails with
   ``too_many_attempts``; the job queued behind it succeeds on the same worker meanwhile.
5. ``radis serve`` killed (SIGKILL, SIGTERM, SIGINT to its own pid only, not its process group): the
   Celery worker, its job child and the reconciler are all gone within seconds, the running job was
   handed back to the queue, and the data folder's lock is free again; while it ran, a second
   ``radis serve`` on the same data folder refused to start a second worker.
   ``radis worker`` stopped with SIGTERM (as ``docker stop`` does it) finishes the step, checkpoints,
   hands the job back and exits 0; the other worker resumes it at once (the stale timeout is 10 minutes
   here, so only the hand-back can explain the resume) from the step where it stopped.

Every wait is a poll with a generous deadline; no assertion is on a duration.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from radis_cli.demo import free_port, wait_ready
from radis_cli.service import LOCK_NAME
from store.settings import Settings
from tests.worker.celery_harness import REPO_ROOT, log_tail, worker_env
from tests.worker.conftest import event_messages, job_events, load_job

from .conftest import wait_for
from .crashing_worker import MARK

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

#: 90 training steps without periodic checkpoints and without the retention benchmarks: long enough that
#: a stop sent after step 2 lands in training, and the only checkpoint is the one a drain writes.
LONG_JOB = {
    "method": "supervised",
    "hyperparameters": {"n_epochs": 30, "checkpoint_every": 1000},
    "method_settings": {"evaluation": {"retention": False}},
}
#: Runs until it is stopped (a quiet machine finishes even LONG_JOB while a test is still setting up).
ENDLESS_JOB = {
    "method": "supervised",
    "hyperparameters": {"max_steps": 20_000, "checkpoint_every": 1000},
    "method_settings": {"evaluation": {"retention": False}},
}
QUICK_JOB = {
    "method": "supervised",
    "hyperparameters": {"max_steps": 1},
    "method_settings": {"evaluation": {"retention": False}},
}


def fault_settings(worker_settings: Settings, broker: str, *, stale_after_s: float, max_attempts: int = 3) -> Settings:
    return Settings(
        data_dir=worker_settings.data_dir,
        database_url=worker_settings.database_url,
        broker_url=broker,
        result_backend=broker,
        cache_dir=worker_settings.cache_dir,
        heartbeat_interval_s=0.5,
        stale_after_s=stale_after_s,
        max_attempts=max_attempts,
    )


def env_of(settings: Settings) -> dict[str, str]:
    return {**worker_env(settings), "RADIS_MAX_ATTEMPTS": str(settings.max_attempts)}


# --- processes ---------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (state first), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()


def alive(pid: int) -> bool:
    """``pid`` runs (a zombie waiting to be reaped does not)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(int(entry.name))
        if fields is not None and fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def ancestors(pid: int) -> set[int]:
    found = set()
    while (fields := _stat(pid)) is not None and int(fields[1]) > 1:
        pid = int(fields[1])
        found.add(pid)
    return found


def owner_pid(factory: sessionmaker[Session], job_id: str) -> int | None:
    """The pid of the process that runs the job now (from its worker id ``host:pid:random``)."""
    job = load_job(factory, job_id)
    return int(job.worker_id.split(":")[-2]) if job.status == "running" and job.worker_id else None


def steps_recorded(factory: sessionmaker[Session], job_id: str) -> list[int]:
    return [e.data["step"] for e in job_events(factory, job_id) if e.type == "metrics" and e.data and "train_loss" in e.data]


@contextmanager
def started(command: list[str], settings: Settings, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` in its own process group; the group is killed afterwards, whatever is left of it."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env_of(settings), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # orphans of a killed parent stay in its group
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)


def radis(*args: str) -> list[str]:
    return [sys.executable, "-m", "radis_cli.main", *args]


def lock_is_free(data_dir: Path) -> bool:
    with (data_dir / LOCK_NAME).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


# --- 5. radis serve leaves nothing behind -----------------------------------------------------------


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=["SIGKILL", "SIGTERM", "SIGINT"])
def test_radis_serve_leaves_no_worker_behind_however_it_is_stopped(
    factory: sessionmaker[Session], worker_settings: Settings, redis_db_url: str, make_job, tmp_path: Path, how: int
) -> None:
    from worker.queue import JobQueue

    settings = fault_settings(worker_settings, redis_db_url, stale_after_s=600.0)
    job_id = make_job(**ENDLESS_JOB)
    log = tmp_path / "serve.log"
    port = free_port()
    with started(radis("serve", "--port", str(port)), settings, log) as serve:
        wait_ready(f"http://127.0.0.1:{port}", serve, timeout=120)
        assert JobQueue(factory, settings).enqueue(job_id)
        wait_for(lambda: len(steps_recorded(factory, job_id)) >= 2, 240, "training step 2")

        # A second `radis serve` on the same data folder would add a second worker: it refuses to start.
        second = subprocess.run(
            radis("serve", "--port", str(free_port())),
            cwd=REPO_ROOT,
            env=env_of(settings),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 1, second.stdout + second.stderr
        assert "another `radis serve`" in second.stdout + second.stderr

        job_pid = owner_pid(factory, job_id)
        assert job_pid is not None and serve.pid in ancestors(job_pid)
        children = descendants(serve.pid)
        assert len(children) >= 3, children  # the Celery worker, its job child, the reconciler

        os.kill(serve.pid, how)  # the parent only, as a supervisor or the OOM killer would
        wait_for(lambda: not any(alive(pid) for pid in children), 90, "every child of radis serve to exit")
        serve.wait(30)
        if how == signal.SIGTERM:
            assert serve.returncode == 0, log_tail(log)
        job = load_job(factory, job_id)
        assert (job.status, job.worker_id) == ("queued", None), (job.status, log_tail(log))
        assert event_messages(factory, job_id)[-1].startswith("Job returned to the queue: worker ")
        assert lock_is_free(settings.data_dir)


# --- 4. a job that kills its worker ------------------------------------------------------------------


def test_a_job_that_kills_its_worker_fails_after_its_ceiling_and_the_next_job_succeeds(
    factory: sessionmaker[Session], worker_settings: Settings, redis_db_url: str, make_job, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from worker.queue import JobQueue

    settings = fault_settings(worker_settings, redis_db_url, stale_after_s=3.0, max_attempts=3)
    poison_model = tmp_path / MARK
    poison_model.symlink_to(tiny_model_dir, target_is_directory=True)
    poison = make_job(model=str(poison_model), **QUICK_JOB)
    following = make_job(**QUICK_JOB)
    log = tmp_path / "worker.log"
    worker = [sys.executable, "-m", "tests.faults.crashing_worker", "-A", "worker.app", "worker", "-Q", "gpu", "-c", "1"]
    worker += ["--pool", "prefork", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    reconciler = [sys.executable, "-m", "worker.reconciler", "--interval", "1", "--requeue-after", "2"]

    with started(worker, settings, log) as celery, started(reconciler, settings, tmp_path / "reconciler.log"):
        queue = JobQueue(factory, settings)
        assert queue.enqueue(poison) and queue.enqueue(following)
        wait_for(lambda: load_job(factory, poison).is_terminal, 300, f"the poison job to end\n{log_tail(log)}")
        wait_for(lambda: load_job(factory, following).is_terminal, 300, f"the next job to end\n{log_tail(log)}")
        assert celery.poll() is None, log_tail(log)  # the worker itself survived all of it

    job = load_job(factory, poison)
    assert (job.status, job.error_code, job.attempts) == ("failed", "too_many_attempts", 3), log_tail(log)
    messages = event_messages(factory, poison)
    assert sum("job taken over by" in m for m in messages) == 2, messages
    assert messages[-1] == "Job failed: The job stopped its worker 3 times (limit 3); it is not retried"
    assert "WorkerLostError" in log.read_text()  # it really killed its process, three times
    nxt = load_job(factory, following)
    assert nxt.status == "succeeded", f"{nxt.error_code}: {nxt.error_message}\n{log_tail(log)}"


# --- 5. radis worker drains on SIGTERM ---------------------------------------------------------------


def test_radis_worker_on_sigterm_hands_its_job_to_another_worker_which_resumes_it_at_once(
    factory: sessionmaker[Session], worker_settings: Settings, redis_db_url: str, make_job, tmp_path: Path
) -> None:
    from worker.queue import JobQueue

    # Ten minutes of silence before a take-over: a resume within the test's deadlines is the hand-back's.
    settings = fault_settings(worker_settings, redis_db_url, stale_after_s=600.0)
    job_id = make_job(**LONG_JOB)
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    with started(radis("worker"), settings, logs[0]) as a, started(radis("worker"), settings, logs[1]) as b:
        assert JobQueue(factory, settings).enqueue(job_id)
        wait_for(lambda: len(steps_recorded(factory, job_id)) >= 2, 240, "training step 2")
        first_pid = owner_pid(factory, job_id)
        assert first_pid is not None
        stopped, other = (a, b) if a.pid in ancestors(first_pid) else (b, a)
        assert stopped.pid in ancestors(first_pid)
        its_processes = descendants(stopped.pid)

        stopped.send_signal(signal.SIGTERM)  # what `docker stop` sends to the container's first process
        assert stopped.wait(120) == 0, log_tail(logs[0]) + log_tail(logs[1])
        assert not any(alive(pid) for pid in its_processes)
        handed_at = max(steps_recorded(factory, job_id))

        second_pid = wait_for(lambda: owner_pid(factory, job_id), 120, "another worker to claim the job")
        assert other.pid in ancestors(second_pid), (
            first_pid,
            second_pid,
            event_messages(factory, job_id)[-6:],
            log_tail(logs[0]),
            log_tail(logs[1]),
        )
        wait_for(lambda: load_job(factory, job_id).is_terminal, 300, "the job to finish")
        assert other.poll() is None

    job = load_job(factory, job_id)
    assert job.status == "succeeded", f"{job.error_code}: {job.error_message}\n{log_tail(logs[0])}\n{log_tail(logs[1])}"
    assert job.attempts == 1  # the hand-back was no failed attempt
    messages = event_messages(factory, job_id)
    assert not any("taken over" in m for m in messages), messages
    returned = [m for m in messages if m.startswith("Job returned to the queue")]
    assert len(returned) == 1, messages
    assert f"Resumed from checkpoint at step {handed_at}" in messages
    assert steps_recorded(factory, job_id) == list(range(1, job.resolved_hyperparameters["max_steps"] + 1))
