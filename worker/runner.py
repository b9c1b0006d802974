"""Claim a job from the store and run it: job → JobSpec → radis_core → store. No Celery here.

:func:`process_job` is what a queue delivery does: claim the job (``queued → running``) or take over a
running one whose worker stopped sending heartbeats, then :func:`run_claimed_job`. A delivery for a
job that another worker runs, or that has finished, returns ``"skipped"`` and changes nothing, so
duplicate messages are harmless and the reconciler may send them freely.

:func:`run_claimed_job` always leaves the job terminal (``succeeded``, ``failed`` with an OpenAI error
code, or ``cancelled``), except when the worker lost the job to another one: then it stops and writes
nothing more, because the job is someone else's now; and except when the worker is shutting down
(``drain``, :mod:`worker.drain`): then the run stops before its next step, training checkpoints what it
finished, and the job goes back to the queue (``"handed_back"``) for another worker to resume at once;
and except when the job's pause was requested: then the run stops the same way and the job waits
``paused`` (``"paused"``) until it is resumed.

A job that took its worker down (killed it, not failed) is taken over again after the stale timeout, at
most until it was started ``settings.max_attempts`` times; then it fails with ``too_many_attempts``.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from radis_core.events import JobCancelled, JobInterrupted
from store import jobs as store_jobs
from store import usage
from store.artifacts import ArtifactStore
from store.db import make_engine, make_sessionmaker
from store.errors import InvalidTransition, NotFound
from store.ids import utcnow
from store.models import JobStatus
from store.settings import Settings
from worker.checkpoint_sync import restore_checkpoints
from worker.cleanup import clean_job
from worker.failures import BudgetExceeded, Failure, TokenBudgetExceeded, classify
from worker.metrics import observing
from worker.progress import Heartbeat, JobReporter, OwnershipLost
from worker.queue import JobQueue
from worker.results import publish_results
from worker.spec import build_spec
from worker.store_writes import in_transaction

log = logging.getLogger(__name__)

Outcome = Literal["succeeded", "failed", "cancelled", "lost", "skipped", "handed_back", "paused"]
#: Whether this worker is shutting down (:func:`worker.drain.drain_requested` in a Celery child).
DrainCheck = Callable[[], bool]

#: How often the pipeline's cancel check reads the store (each read is also a heartbeat).
DEFAULT_CANCEL_POLL_S = 1.0


def new_worker_id() -> str:
    """An id for one worker process: host, pid and a random part (a pid can be reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def worker_sessionmaker(database_url: str) -> sessionmaker[Session]:
    """This process's session factory for ``database_url``: one engine per process.

    Celery forks a child per job, and a connection pool must not cross a fork: a child that reused an
    engine its parent had made (the metrics exporter's, once) wrote through the parent's sockets, and
    both sides read each other's answers (heartbeats matched no row; "connection in transaction status
    INTRANS"). Keyed by pid, a child always builds its own; what it inherited is never used (psycopg does
    not close a connection from a process other than the one that opened it).
    """
    return _process_sessionmaker(database_url, os.getpid())


@lru_cache(maxsize=8)
def _process_sessionmaker(database_url: str, pid: int) -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(database_url))


def claim(factory: sessionmaker[Session], settings: Settings, job_id: str, worker_id: str) -> str | None:
    """Make ``worker_id`` the owner of the job: ``"claimed"`` (it was queued), ``"taken_over"`` (it was
    running with a heartbeat older than ``settings.stale_after_s``), or ``None`` (leave it alone)."""

    def work(session: Session) -> str | None:
        if store_jobs.claim_job(session, job_id, worker_id) is not None:
            return "claimed"
        try:
            job = store_jobs.get_job_any(session, job_id)
        except NotFound:
            log.warning("job %s does not exist; message dropped", job_id)
            return None
        if job.status != JobStatus.RUNNING:
            return None
        stale_before = utcnow() - timedelta(seconds=settings.stale_after_s)
        if store_jobs.take_over_stale(session, job_id, worker_id, stale_before, settings.max_attempts) is not None:
            return "taken_over"
        return None

    return in_transaction(factory, work)


def process_job(
    factory: sessionmaker[Session],
    artifacts: ArtifactStore,
    settings: Settings,
    job_id: str,
    worker_id: str,
    *,
    cancel_poll_s: float = DEFAULT_CANCEL_POLL_S,
    drain: DrainCheck | None = None,
    queue: JobQueue | None = None,
) -> Outcome:
    """Claim the job (or take over a stale one) and run it; ``"skipped"`` when it is not ours to run.
    A worker already shutting down claims nothing: it sends the job's message again for another worker
    (through ``queue``, by default one built from ``settings``)."""
    if drain is not None and drain():
        log.info("job %s: the worker is shutting down; message sent again for another worker", job_id)
        (queue or JobQueue(factory, settings)).enqueue(job_id)
        return "handed_back"
    how = claim(factory, settings, job_id, worker_id)
    if how is None:
        log.info("job %s: not claimable (running elsewhere, finished, or unknown); skipped", job_id)
        return "skipped"
    log.info("job %s: %s by worker %s", job_id, how.replace("_", " "), worker_id)
    return run_claimed_job(factory, artifacts, settings, job_id, worker_id, cancel_poll_s=cancel_poll_s, drain=drain, queue=queue)


def _finish(factory: sessionmaker[Session], job_id: str, work: Callable[[Session], object]) -> Outcome | None:
    """Run a final transition; ``"lost"`` if the job is no longer ours, ``None`` when it went through."""
    try:
        in_transaction(factory, work)
    except InvalidTransition as exc:  # LostOwnership included
        log.warning("job %s: final transition refused (%s); the job is not ours any more", job_id, exc)
        return "lost"
    return None


def run_claimed_job(
    factory: sessionmaker[Session],
    artifacts: ArtifactStore,
    settings: Settings,
    job_id: str,
    worker_id: str,
    *,
    cancel_poll_s: float = DEFAULT_CANCEL_POLL_S,
    drain: DrainCheck | None = None,
    queue: JobQueue | None = None,
) -> Outcome:
    """Run a job that ``worker_id`` owns (status ``running``) to a terminal state, or hand it back when
    ``drain()`` turns true; see the module docstring. A job that ended has its folder removed
    (:mod:`worker.cleanup`; its result files stay)."""
    outcome = _run(factory, artifacts, settings, job_id, worker_id, cancel_poll_s=cancel_poll_s, drain=drain, queue=queue)
    if outcome in ("succeeded", "failed", "cancelled"):
        try:
            clean_job(factory, artifacts, job_id)
        except Exception:  # the reconciler's sweep tries again
            log.exception("job %s: could not remove its folder", job_id)
    return outcome


def _run(
    factory: sessionmaker[Session],
    artifacts: ArtifactStore,
    settings: Settings,
    job_id: str,
    worker_id: str,
    *,
    cancel_poll_s: float,
    drain: DrainCheck | None,
    queue: JobQueue | None,
) -> Outcome:
    reporter: JobReporter | None = None
    heartbeat: Heartbeat | None = None
    try:
        spec, facts = in_transaction(factory, lambda s: build_spec(s, artifacts, settings, store_jobs.get_job_any(s, job_id)))
        # Checkpoints another host wrote (the bucket) come into this worker's folder before training resumes.
        restore_checkpoints(artifacts, job_id)
        reporter = JobReporter(
            factory,
            artifacts,
            job_id=job_id,
            worker_id=worker_id,
            method=facts.method,
            keep_checkpoints=facts.keep_checkpoints,
            hide_paths={str(artifacts.root): "<artifacts>", str(settings.cache_dir): "<cache>"},
            cancel_poll_s=cancel_poll_s,
            run_seconds_before=facts.run_seconds,
            tokens_used_before=facts.tokens_used,
        )
        # A cancel requested before the run (or before a take-over) needs no model loaded; nor does a
        # job that used its budget in earlier attempts.
        if reporter.beat():
            raise JobCancelled("cancel requested before the run started")
        _check_budget(reporter, facts.wall_time_budget_s, facts.token_budget)
        heartbeat = Heartbeat(reporter, settings.heartbeat_interval_s)
        heartbeat.start()

        from radis_core.pipeline import run_job  # heavy work lives in the worker child only

        result = run_job(
            spec,
            on_event=observing(reporter.on_event),
            should_cancel=_cancel_check(reporter, drain, facts.wall_time_budget_s, facts.token_budget),
        )
        reporter.flush()
        heartbeat.stop()
        totals = (reporter.run_seconds(), reporter.tokens_used())
        job = publish_results(factory, artifacts, facts, worker_id, result, settings.max_storage_bytes_per_project, totals)
        log.info("job %s succeeded: %s", job_id, job.fine_tuned_model)
        return "succeeded"
    except (OwnershipLost, InvalidTransition) as exc:
        log.warning("job %s: worker %s lost the job (%s); stopped without writing", job_id, worker_id, exc)
        return "lost"
    except PauseRequested:
        _stop(heartbeat, reporter)
        lost = _finish(factory, job_id, lambda s: store_jobs.mark_paused(s, job_id, worker_id))
        log.info("job %s paused", job_id)
        return lost or ("cancelled" if _status(factory, job_id) == JobStatus.CANCELLED else "paused")
    except JobInterrupted:
        _stop(heartbeat, reporter)
        return _hand_back(factory, queue or JobQueue(factory, settings), job_id, worker_id)
    except JobCancelled:
        _stop(heartbeat, reporter)
        lost = _finish(factory, job_id, lambda s: store_jobs.mark_cancelled(s, job_id, worker_id))
        log.info("job %s cancelled", job_id)
        return lost or "cancelled"
    except Exception as exc:
        _stop(heartbeat, reporter)
        failure: Failure = classify(exc, reporter.stage if reporter else None)
        if failure.code in ("internal_error", "out_of_memory"):
            log.exception("job %s failed (%s)", job_id, failure.code)
        else:
            log.info("job %s failed (%s): %s", job_id, failure.code, failure.message)
        used_s = exc.used_s if isinstance(exc, BudgetExceeded) else None
        used_tokens = reporter.tokens_used() if reporter is not None else None

        def fail(s: Session) -> object:
            if used_s is not None:  # the run time that broke the budget, not the last heartbeat's
                usage.record_run_seconds(s, job_id, worker_id, used_s)
            if used_tokens is not None:  # the count that broke a token budget, not the last heartbeat's
                usage.record_tokens_used(s, job_id, worker_id, used_tokens)
            return store_jobs.mark_failed(s, job_id, worker_id, failure.code, failure.message, failure.param)

        lost = _finish(factory, job_id, fail)
        return lost or "failed"
    finally:
        # KeyboardInterrupt/SystemExit leave the job running on purpose: its heartbeat stops, and the
        # reconciler hands it to another worker, which resumes from a checkpoint.
        if heartbeat is not None:
            heartbeat.stop()


def _check_budget(reporter: JobReporter, budget_s: int, token_budget: int) -> None:
    used = reporter.run_seconds()
    if used > budget_s:
        raise BudgetExceeded(budget_s, used)
    tokens = reporter.tokens_used()
    if token_budget and tokens > token_budget:
        raise TokenBudgetExceeded(token_budget, tokens)


class PauseRequested(JobInterrupted):
    """The job's pause was requested: like a shutdown, the run stops before its next step with a checkpoint
    of the steps it finished (training saves it); the job then waits ``paused`` instead of being queued."""


def _cancel_check(reporter: JobReporter, drain: DrainCheck | None, budget_s: int, token_budget: int) -> Callable[[], bool]:
    """The pipeline's cancel check (between steps and batches): the store's cancel flag, this worker's
    shutdown and the job's pause as interruptions, and the job's wall-time and token budgets
    (:class:`BudgetExceeded`, :class:`TokenBudgetExceeded` fail it)."""

    def should_cancel() -> bool:
        if drain is not None and drain():
            raise JobInterrupted("the worker is shutting down")
        _check_budget(reporter, budget_s, token_budget)
        cancel = reporter.should_cancel()
        if not cancel and reporter.pause_requested:
            raise PauseRequested("a pause was requested")
        return cancel

    return should_cancel


def _status(factory: sessionmaker[Session], job_id: str) -> str:
    return in_transaction(factory, lambda s: store_jobs.get_job_any(s, job_id).status)


def _hand_back(factory: sessionmaker[Session], queue: JobQueue, job_id: str, worker_id: str) -> Outcome:
    """Queue the job again (or cancel it, when a cancel came meanwhile) and send its message at once."""
    try:
        job = in_transaction(
            factory, lambda s: store_jobs.release_job(s, job_id, worker_id, f"worker {worker_id} is shutting down")
        )
    except InvalidTransition as exc:  # LostOwnership included
        log.warning("job %s: could not hand the job back (%s); it is not ours any more", job_id, exc)
        return "lost"
    if job.status == JobStatus.CANCELLED:
        log.info("job %s cancelled while its worker was shutting down", job_id)
        return "cancelled"
    # If the broker is down, the reconciler sends the queued job later.
    queue.enqueue(job_id)
    log.info("job %s handed back to the queue: worker %s is shutting down", job_id, worker_id)
    return "handed_back"


def _stop(heartbeat: Heartbeat | None, reporter: JobReporter | None) -> None:
    """Stop beating and write buffered metrics, so the history ends before the final event."""
    if heartbeat is not None:
        heartbeat.stop()
    if reporter is not None and not reporter.lost:
        try:
            reporter.flush()
        except Exception:
            log.exception("job %s: could not write buffered metrics", reporter.job_id)


__all__ = [
    "DEFAULT_CANCEL_POLL_S",
    "DrainCheck",
    "Outcome",
    "claim",
    "new_worker_id",
    "process_job",
    "run_claimed_job",
    "worker_sessionmaker",
]
