"""Pipeline progress → store rows, as it happens; heartbeats and the cancel flag.

:class:`JobReporter` is the pipeline's ``on_event`` and ``should_cancel``. Each event becomes a job
event row; a new stage also moves the job's ``stage`` and overall ``progress``; checkpoint events
become checkpoint rows; the first training event records the resolved hyperparameters. Every write is
its own short transaction, so the API sees progress at once. Metrics events can come many times a
second (a tiny model trains in milliseconds a step): they are buffered and written together at most
every :data:`METRICS_FLUSH_INTERVAL_S` seconds, but none is dropped, and anything else (a stage change,
a checkpoint, the last step of a stage) writes the buffer first, so rows keep the pipeline's order.

:class:`Heartbeat` is a thread that proves the worker alive every ``heartbeat_interval_s`` even while
the pipeline sits in one long generation batch, and flushes buffered metrics between events.

When the store says the worker lost the job (another worker took it over), the reporter remembers
it and the next callback raises :class:`OwnershipLost`: the run stops and writes nothing more.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from radis_core.events import CheckpointSaved, Counted, ProgressEvent, StepDone, TrainingStarted
from radis_core.stages import progress_spans
from store import events as store_events
from store import jobs as store_jobs
from store import usage
from store.artifacts import ArtifactStore, UnsafeKey
from store.errors import InvalidTransition
from store.ids import utcnow
from store.models import Checkpoint, EventType
from worker.checkpoint_sync import publish_checkpoints
from worker.store_writes import in_transaction

log = logging.getLogger(__name__)

#: Buffered metrics events are written at most this often (about 4 writes a second).
METRICS_FLUSH_INTERVAL_S = 0.25


class OwnershipLost(Exception):
    """The worker no longer owns the job (taken over, or no longer running): stop, write nothing more."""


def json_safe(value: Any) -> Any:
    """``value`` as JSON the database accepts: non-finite floats become ``None`` (JSONB has no NaN),
    paths and other objects become strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


@dataclass
class _PendingEvent:
    message: str
    level: str
    data: dict[str, Any]
    #: The training step a StepDone reports (one row per step, also after a resume).
    step: int | None = None


class JobReporter:
    """Writes one running job's progress to the store; see the module docstring.

    ``hide_paths`` are folder prefixes (the artifact root, the cache) replaced in messages and data by a
    placeholder: callers read the events, and server paths are not theirs to see.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        artifacts: ArtifactStore,
        *,
        job_id: str,
        worker_id: str,
        method: str,
        keep_checkpoints: int,
        hide_paths: dict[str, str] | None = None,
        cancel_poll_s: float = 1.0,
        run_seconds_before: float = 0.0,
        tokens_used_before: int = 0,
    ) -> None:
        self._factory = factory
        self._artifacts = artifacts
        self.job_id = job_id
        self.worker_id = worker_id
        self._spans = progress_spans(method)
        self._keep_checkpoints = max(1, int(keep_checkpoints))
        # Longest prefix first, so a cache inside the data folder is named as the cache.
        self._hide = sorted((hide_paths or {}).items(), key=lambda kv: len(kv[0]), reverse=True)
        self._cancel_poll_s = cancel_poll_s
        # The pipeline thread and the heartbeat thread both write; one lock keeps rows in order.
        self._lock = threading.Lock()
        self._pending: list[_PendingEvent] = []
        self._pending_since: float | None = None
        self._last_flush = 0.0
        self.stage: str | None = None
        self.progress = 0.0
        self._estimated_finish: datetime | None = None
        self._progress_dirty = False
        self._lost = threading.Event()
        self._cancel_seen = threading.Event()
        self._pause_seen = threading.Event()
        self._last_beat = 0.0
        # Wall time of earlier attempts, and when this one started (the budget counts both).
        self._run_seconds_before = run_seconds_before
        self._started = time.monotonic()
        # Tokens generated and trained, earlier attempts included (the token budget counts them); and the
        # running count of the generation call in progress, whose events report its total so far.
        self._tokens_used = int(tokens_used_before)
        self._generation_seen: tuple[str, int] | None = None

    # --- state seen by the runner -----------------------------------------------------------------

    @property
    def lost(self) -> bool:
        """True once the store said another worker owns the job (or it stopped running)."""
        return self._lost.is_set()

    @property
    def cancel_requested(self) -> bool:
        """True once a heartbeat saw the job's cancel flag."""
        return self._cancel_seen.is_set()

    @property
    def pause_requested(self) -> bool:
        """Whether the last heartbeat saw the job's pause flag (a resume before the pause took effect
        withdraws it)."""
        return self._pause_seen.is_set()

    def _saw(self, requests: tuple[bool, bool]) -> bool:
        """Remember what a heartbeat read: ``(cancel_requested, pause_requested)``; returns the cancel."""
        cancel, pause = requests
        if cancel:
            self._cancel_seen.set()
        if pause:
            self._pause_seen.set()
        else:
            self._pause_seen.clear()
        return cancel

    def _write(self, work: Any) -> Any:
        """One transaction; ownership loss is remembered and raised as :class:`OwnershipLost`."""
        if self._lost.is_set():
            raise OwnershipLost(self.job_id)
        try:
            return in_transaction(self._factory, work)
        except InvalidTransition as exc:  # LostOwnership included
            self._lost.set()
            log.warning("job %s: %s; stopping without further writes", self.job_id, exc)
            raise OwnershipLost(self.job_id) from exc

    def _write_as_owner(self, work: Any) -> Any:
        """One transaction that first proves ownership (a heartbeat, which also reads the cancel flag), so
        a worker that lost the job adds no row after the take-over."""

        def owned(session: Session) -> Any:
            self._saw(store_jobs.heartbeat_requests(session, self.job_id, self.worker_id))
            return work(session)

        result = self._write(owned)
        self._last_beat = time.monotonic()
        return result

    # --- heartbeats and cancel ------------------------------------------------------------------

    def run_seconds(self) -> float:
        """Seconds the job has run, all attempts together (earlier ones as of their last heartbeat)."""
        return self._run_seconds_before + time.monotonic() - self._started

    def tokens_used(self) -> int:
        """Tokens generated (targets, rationales) and trained so far, all attempts together."""
        return self._tokens_used

    def _count_tokens(self, event: ProgressEvent) -> None:
        """Add what ``event`` reports: a training step's target tokens, or a generation call's new tokens
        since its previous report (a count lower than the last one is a new call, counted from zero)."""
        if isinstance(event, StepDone):
            self._tokens_used += max(0, int(event.metrics.step_tokens))
        elif isinstance(event, Counted) and "new_tokens" in event.details:
            count = int(event.details["new_tokens"])
            seen = self._generation_seen
            before = seen[1] if seen is not None and seen[0] == event.stage and count >= seen[1] else 0
            self._tokens_used += max(0, count - before)
            self._generation_seen = (event.stage, count)

    def beat(self) -> bool:
        """Heartbeat now (recording the run seconds); returns whether a cancel was requested (a pause
        request shows in :attr:`pause_requested`). Raises :class:`OwnershipLost`."""

        def work(session: Session) -> tuple[bool, bool]:
            requests = store_jobs.heartbeat_requests(session, self.job_id, self.worker_id)
            usage.record_run_seconds(session, self.job_id, self.worker_id, self.run_seconds())
            usage.record_tokens_used(session, self.job_id, self.worker_id, self.tokens_used())
            return requests

        requests = self._write(work)
        self._last_beat = time.monotonic()
        return self._saw(requests)

    def should_cancel(self) -> bool:
        """The pipeline's cancel check: the store's flag, read at most every ``cancel_poll_s`` (each read
        is also a heartbeat). Raises :class:`OwnershipLost` when the job is no longer ours."""
        if self._lost.is_set():
            raise OwnershipLost(self.job_id)
        if self._cancel_seen.is_set():
            return True
        if time.monotonic() - self._last_beat >= self._cancel_poll_s:
            return self.beat()
        return False

    # --- events ---------------------------------------------------------------------------------

    def _hide_paths(self, text: str) -> str:
        for prefix, placeholder in self._hide:
            text = text.replace(prefix, placeholder)
        return text

    def _public(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._hide_paths(value)
        if isinstance(value, dict):
            return {k: self._public(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._public(v) for v in value]
        return value

    def _stage_progress(self, stage: str, event: ProgressEvent) -> float:
        start, end = self._spans.get(stage, (self.progress, self.progress))
        fraction = 0.0
        if event.done is not None and event.total:
            fraction = min(max(event.done / event.total, 0.0), 1.0)
        # Never backwards within a run: a stage may report 0/N after its first event.
        return max(self.progress, start + (end - start) * fraction)

    def _training_estimate(self, event: StepDone, progress: float) -> datetime | None:
        """Finish time extrapolated from the training ETA: the rest of the run is assumed to go at
        training's pace per unit of progress."""
        eta = event.metrics.eta_seconds
        span = self._spans.get("training")
        if not math.isfinite(eta) or span is None:
            return None
        left_in_training = span[1] - progress
        if left_in_training <= 1e-9:
            return None
        seconds = float(eta) * (1.0 - progress) / left_in_training
        return utcnow() + timedelta(seconds=seconds)

    def on_event(self, event: ProgressEvent) -> None:
        """The pipeline's event callback (see the module docstring)."""
        if self._lost.is_set():
            raise OwnershipLost(self.job_id)
        self._count_tokens(event)
        data = json_safe(self._public(dict(event.data)))
        message = self._hide_paths(event.message)
        with self._lock:
            if event.stage in self._spans and event.stage != self.stage:
                self._flush_locked()
                self._enter_stage(event, message, data)
            elif isinstance(event, CheckpointSaved):
                self._flush_locked()
                self._record_checkpoint(event, message, data)
            elif event.type == "metrics":
                self._buffer_metrics(event, message, data)
            else:
                self._flush_locked()
                self._write_as_owner(
                    lambda s: store_events.add_event(s, self.job_id, message, level=event.level, data=data or None)
                )

    def _enter_stage(self, event: ProgressEvent, message: str, data: dict[str, Any]) -> None:
        stage = event.stage
        progress = self._stage_progress(stage, event)
        estimate = self._estimated_finish if self._estimated_finish and self._estimated_finish > utcnow() else None
        hyperparameters = event.hyperparameters.to_dict() if isinstance(event, TrainingStarted) else None
        step = event.metrics.step if isinstance(event, StepDone) else None
        steps = [step] if step is not None else []

        def work(session: Session) -> None:
            store_jobs.set_stage(session, self.job_id, self.worker_id, stage, progress, estimate)
            if hyperparameters is not None:
                store_jobs.set_resolved_hyperparameters(session, self.job_id, self.worker_id, json_safe(hyperparameters))
            (latest,), _ = store_events.list_events(session, self.job_id, limit=1)
            # The store's stage event may already say it ("Exporting the adapter"): once is enough; and a
            # step already reported (before a resume) is not reported twice.
            if (latest.message != message or data) and not store_events.recorded_steps(session, self.job_id, steps):
                store_events.add_event(
                    session, self.job_id, message, level=event.level, type=event.type, data=data or None, step=step
                )

        self._write(work)
        self.stage, self.progress = stage, progress
        self._progress_dirty = False

    def _record_checkpoint(self, event: CheckpointSaved, message: str, data: dict[str, Any]) -> None:
        step = event.step
        try:
            storage_key = self._artifacts.key_of(Path(event.path))
        except UnsafeKey:
            # A checkpoint outside the artifact root cannot be served; keep the event, skip the row.
            log.warning("job %s: checkpoint at step %d is outside the artifact root; not recorded", self.job_id, step)
            storage_key = None
        metrics = json_safe(asdict(event.metrics))
        data = {k: v for k, v in data.items() if k != "path"}
        if storage_key is not None:
            data["storage_key"] = storage_key
        # Before the row: a checkpoint that is recorded is readable by any host that takes the job over.
        publish_checkpoints(self._artifacts, self.job_id)
        # The folder is counted in the project's storage while the job lives (store.usage).
        work_bytes = self._artifacts.job_dir_bytes(self.job_id)

        def work(session: Session) -> None:
            exists = session.scalar(select(Checkpoint.id).where(Checkpoint.job_id == self.job_id, Checkpoint.step == step))
            # A resumed attempt may save a step an earlier attempt already recorded.
            if storage_key is not None and exists is None:
                store_events.add_checkpoint(session, self.job_id, step, storage_key=storage_key, metrics=metrics)
                # The pipeline keeps only the newest folders on disk; rows of deleted folders go too.
                store_events.prune_checkpoints(session, self.job_id, keep=self._keep_checkpoints)
            store_events.add_event(session, self.job_id, message, level=event.level, data=data)
            usage.record_work_bytes(session, self.job_id, self.worker_id, work_bytes)

        self._write_as_owner(work)

    def _buffer_metrics(self, event: ProgressEvent, message: str, data: dict[str, Any]) -> None:
        step = event.metrics.step if isinstance(event, StepDone) else None
        self._pending.append(_PendingEvent(message, event.level, data, step))
        if self._pending_since is None:
            self._pending_since = time.monotonic()
        if self.stage is not None and event.stage == self.stage:
            self.progress = self._stage_progress(self.stage, event)
            if isinstance(event, StepDone):
                self._estimated_finish = self._training_estimate(event, self.progress) or self._estimated_finish
            self._progress_dirty = True
        last_of_stage = event.done is not None and event.total is not None and event.done >= event.total
        if last_of_stage or time.monotonic() - self._last_flush >= METRICS_FLUSH_INTERVAL_S:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._pending and not self._progress_dirty:
            return
        pending, self._pending, self._pending_since = self._pending, [], None
        progress, estimate, dirty = self.progress, self._estimated_finish, self._progress_dirty

        def work(session: Session) -> None:
            if dirty:  # an owner-only update: it proves ownership before the rows are added
                store_jobs.set_progress(session, self.job_id, self.worker_id, min(progress, 1.0), estimate)
            # A resumed attempt trains again the steps after its checkpoint: the first report of a step stays.
            seen = store_events.recorded_steps(session, self.job_id, [p.step for p in pending if p.step is not None])
            for item in pending:
                if item.step is not None and item.step in seen:
                    continue
                store_events.add_event(
                    session, self.job_id, item.message, level=item.level, type=EventType.METRICS, data=item.data, step=item.step
                )
                if item.step is not None:
                    seen.add(item.step)

        try:
            self._write(work) if dirty else self._write_as_owner(work)
        except BaseException:
            # Put them back: a retry of the flush (or the failure report) must not lose them silently.
            self._pending = pending + self._pending
            raise
        self._progress_dirty = False
        self._last_flush = time.monotonic()

    def flush(self) -> None:
        """Write buffered metrics now (before the job's final transition)."""
        with self._lock:
            self._flush_locked()

    def flush_if_due(self) -> None:
        """Write buffered metrics that have waited at least :data:`METRICS_FLUSH_INTERVAL_S`."""
        with self._lock:
            if self._pending_since is not None and time.monotonic() - self._pending_since >= METRICS_FLUSH_INTERVAL_S:
                self._flush_locked()


class Heartbeat(threading.Thread):
    """Beats for a reporter every ``interval_s`` and flushes its buffered metrics in between.

    Errors never kill the thread: a transient failure is retried by the next beat, and ownership loss
    is recorded in the reporter (whose next callback stops the run).
    """

    def __init__(self, reporter: JobReporter, interval_s: float) -> None:
        super().__init__(name=f"heartbeat-{reporter.job_id}", daemon=True)
        self._reporter = reporter
        self._interval_s = interval_s
        self._stopped = threading.Event()

    def run(self) -> None:
        tick = min(self._interval_s, 0.5)
        next_beat = time.monotonic() + self._interval_s
        while not self._stopped.wait(tick):
            if self._reporter.lost:
                return
            try:
                self._reporter.flush_if_due()
                if time.monotonic() >= next_beat:
                    self._reporter.beat()
                    next_beat = time.monotonic() + self._interval_s
            except OwnershipLost:
                return
            except Exception:
                log.exception("job %s: heartbeat failed; retrying at the next beat", self._reporter.job_id)
                next_beat = time.monotonic() + self._interval_s

    def stop(self) -> None:
        """Stop beating and wait for the thread."""
        self._stopped.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=30)
