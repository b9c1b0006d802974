"""The one path by which a job message is sent: :meth:`JobQueue.enqueue`.

The broker is only a doorbell; the store is the source of truth. A job is enqueued only after the
transaction that created it committed (a worker must never receive the id of a job it cannot read):
the API calls :meth:`JobQueue.enqueue` right after its commit, and the reconciler
(:mod:`worker.reconciler`) calls it again for a queued job whose message was lost and for a running
job whose worker died. Each send of a queued job is recorded as ``enqueued_at``. A duplicate message
is harmless: only one claim or take-over wins.

Light on purpose: the API builds a :class:`JobQueue` at startup, so this module imports neither
Celery nor anything heavy; the Celery app is built on the first send.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from store import jobs as store_jobs
from store.db import session_scope
from store.settings import Settings

log = logging.getLogger(__name__)

#: Puts one ``radis.run_job`` message for a job id on the broker; raises when it cannot.
Send = Callable[[str], None]


class JobQueue:
    """Sends committed jobs to the GPU workers and records each send in the store.

    ``send`` replaces the transport (tests record the ids, or fail on purpose); without it the message
    goes through ``app`` (a Celery app), or through one built from ``settings`` on the first send.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings | None = None,
        *,
        app: Any = None,
        send: Send | None = None,
    ) -> None:
        if send is None and app is None and settings is None:
            raise ValueError("JobQueue needs settings, a Celery app or a send function")
        self.factory = factory
        self._settings = settings
        self._app = app
        self._send = send
        self._lock = threading.Lock()

    def _deliver(self, job_id: str) -> None:
        if self._send is not None:
            self._send(job_id)
            return
        from worker.app import GPU_QUEUE, RUN_JOB_TASK, make_celery

        with self._lock:
            if self._app is None:
                assert self._settings is not None
                self._app = make_celery(self._settings)
        # ignore_result: the outcome is read from the store, so sending must not wait on the result backend.
        self._app.send_task(RUN_JOB_TASK, args=[job_id], queue=GPU_QUEUE, ignore_result=True)

    def enqueue(self, job_id: str) -> bool:
        """Send the committed job ``job_id`` to the GPU queue and, while it is queued, record ``enqueued_at``.

        Call it only after the transaction that created the job committed. Returns False when the
        message could not be sent (broker down): the job stays ``queued`` and the reconciler sends it
        later, so a caller's request need not fail. A failure to record a sent message is only logged
        (it costs at most one extra send by the reconciler).
        """
        try:
            self._deliver(job_id)
        except Exception as exc:
            # The exception class only: a broker error may carry its URL, password included.
            log.warning("job %s: could not enqueue (%s); the reconciler will send it", job_id, type(exc).__name__)
            return False
        try:
            with session_scope(self.factory) as session:
                store_jobs.mark_enqueued(session, job_id)
        except Exception as exc:
            log.warning("job %s: enqueued but could not record it (%s)", job_id, type(exc).__name__)
        return True
