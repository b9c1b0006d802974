"""Send jobs whose queue message was lost again. The store is the source of truth; the broker a doorbell.

Two cases: a ``queued`` job whose message was never sent (the API died between commit and enqueue) or
was sent long ago (the broker lost it: a Redis restart without persistence, a flushed queue); and a
``running`` job whose heartbeat is stale (its worker died). Both get a new ``radis.run_job`` message,
sent by :meth:`worker.queue.JobQueue.enqueue` (the only path that sends one);
the worker that receives it claims the queued job, or takes the stale one over and resumes it from
its newest checkpoint. Duplicates are harmless (only one claim or take-over wins), so several
reconcilers may run at once.

Run it beside the workers as a loop, ``python -m worker.reconciler`` (:func:`run_forever`); the
``radis worker`` command starts it next to ``celery -A worker.app worker -Q gpu``. It is a separate
loop rather than a Celery beat entry on purpose: a beat task would wait in the ``gpu`` queue behind
the long job it may be meant to rescue.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
from collections.abc import MutableMapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from store import job_queries
from store.artifacts import ArtifactStore, open_artifact_store
from store.ids import utcnow
from store.logs import configure_logging
from store.settings import Settings, get_settings
from worker.cleanup import clean_ended_jobs, clean_expired_uploads
from worker.queue import JobQueue
from worker.runner import worker_sessionmaker
from worker.store_writes import in_transaction

log = logging.getLogger(__name__)

#: A queued job's message is presumed lost this long after it was sent. Longer than a job usually
#: waits behind others, so a busy queue does not fill up with duplicates.
DEFAULT_REQUEUE_AFTER_S = 600.0
#: A queued job never enqueued is sent this long after its creation (the API enqueues right after its
#: commit; within this window it is presumably still doing so).
DEFAULT_UNSENT_GRACE_S = 30.0
#: Seconds between passes of :func:`run_forever`.
DEFAULT_INTERVAL_S = 60.0


def reconcile_once(
    factory: sessionmaker[Session],
    settings: Settings,
    queue: JobQueue | None = None,
    now: datetime | None = None,
    *,
    requeue_after_s: float = DEFAULT_REQUEUE_AFTER_S,
    unsent_grace_s: float = DEFAULT_UNSENT_GRACE_S,
    recently_sent: MutableMapping[str, datetime] | None = None,
    artifacts: ArtifactStore | None = None,
) -> dict[str, int]:
    """One pass; returns counts ``{"queued": …, "stale": …, "errors": …, "cleaned": …}`` of jobs sent,
    failed sends, and (with ``artifacts``, under ``"cleaned"``) ended jobs whose folders were removed (:mod:`worker.cleanup`)
    and, under ``"expired_upload_parts"``, parts of expired uploads deleted.

    ``queue`` defaults to one sending through a Celery app built from ``settings``.

    ``recently_sent`` (job id → when this reconciler last sent it) keeps a long-lived loop from sending a
    stale running job again on every pass while no worker is free to take it; queued jobs need no memory
    (their ``enqueued_at`` is stored).
    """
    queue = queue or JobQueue(factory, settings)
    now = now or utcnow()
    grace_before = now - timedelta(seconds=unsent_grace_s)
    requeue_before = now - timedelta(seconds=requeue_after_s)
    stale_before = now - timedelta(seconds=settings.stale_after_s)

    def find(session: Session) -> tuple[list[str], list[str]]:
        queued = [
            job.id
            for job in job_queries.queued_jobs_older_than(session, grace_before)
            if job.enqueued_at is None or job.enqueued_at < requeue_before
        ]
        stale = [job.id for job in job_queries.stale_running_jobs(session, stale_before)]
        return queued, stale

    queued, stale = in_transaction(factory, find)
    if recently_sent is not None:
        for job_id, sent_at in list(recently_sent.items()):
            if sent_at < requeue_before:
                del recently_sent[job_id]
        stale = [job_id for job_id in stale if job_id not in recently_sent]

    counts = {"queued": 0, "stale": 0, "errors": 0}
    if artifacts is not None:
        counts["cleaned"] = clean_ended_jobs(factory, artifacts)
        counts["expired_upload_parts"] = clean_expired_uploads(factory, artifacts)
    for kind, job_ids in (("queued", queued), ("stale", stale)):
        for job_id in job_ids:
            # Records enqueued_at for a queued job; a running one has nothing to record.
            if not queue.enqueue(job_id):
                counts["errors"] += 1
                continue
            if kind == "stale" and recently_sent is not None:
                recently_sent[job_id] = now
            counts[kind] += 1
            log.info("job %s: %s job enqueued again", job_id, kind)
    return counts


def run_forever(
    interval_s: float = DEFAULT_INTERVAL_S,
    *,
    factory: sessionmaker[Session] | None = None,
    settings: Settings | None = None,
    queue: JobQueue | None = None,
    stop: threading.Event | None = None,
    requeue_after_s: float = DEFAULT_REQUEUE_AFTER_S,
    unsent_grace_s: float = DEFAULT_UNSENT_GRACE_S,
) -> None:
    """Reconcile every ``interval_s`` seconds until ``stop`` is set (forever without one); the thresholds
    are :func:`reconcile_once`'s; ``queue`` defaults to one built from ``settings``.

    A failing pass (database down) is logged and retried at the next interval: the loop never dies.
    """
    settings = settings or get_settings()
    factory = factory or worker_sessionmaker(settings.database_url)
    queue = queue or JobQueue(factory, settings)
    artifacts = open_artifact_store(settings)
    stop = stop or threading.Event()
    sent: dict[str, datetime] = {}
    log.info("reconciler started (every %.0f s)", interval_s)
    while True:
        try:
            counts = reconcile_once(
                factory,
                settings,
                queue,
                requeue_after_s=requeue_after_s,
                unsent_grace_s=unsent_grace_s,
                recently_sent=sent,
                artifacts=artifacts,
            )
            if any(counts.values()):
                log.info("reconciler pass: %s", counts)
        except Exception:
            log.exception("reconciler pass failed; retrying in %.0f s", interval_s)
        if stop.wait(interval_s):
            return


def main(argv: list[str] | None = None) -> None:
    """``python -m worker.reconciler [--interval SECONDS]``: run :func:`run_forever` with the environment's settings."""
    parser = argparse.ArgumentParser(prog="python -m worker.reconciler", description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S, help="seconds between passes")
    parser.add_argument(
        "--requeue-after",
        type=float,
        default=DEFAULT_REQUEUE_AFTER_S,
        help="seconds after which a queued job's message is presumed lost",
    )
    parser.add_argument(
        "--unsent-grace",
        type=float,
        default=DEFAULT_UNSENT_GRACE_S,
        help="seconds a new job may stay unsent before the reconciler sends it",
    )
    args = parser.parse_args(argv)
    for flag, value in (("--interval", args.interval), ("--requeue-after", args.requeue_after)):
        if value <= 0:
            parser.error(f"{flag}: must be > 0, got {value}")
    if args.unsent_grace < 0:
        parser.error(f"--unsent-grace: must be >= 0, got {args.unsent_grace}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_logging(get_settings().log_format)
    stop = threading.Event()
    # SIGTERM (its command stopping, or the command gone: see radis_cli.service) ends the loop; exit 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        run_forever(args.interval, stop=stop, requeue_after_s=args.requeue_after, unsent_grace_s=args.unsent_grace)
    log.info("reconciler stopped")


if __name__ == "__main__":
    main()
