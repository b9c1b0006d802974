"""Prometheus metrics of the worker: stage durations, training steps and tokens, rationales generated or
cached, jobs by outcome, the store's queue depth and device memory, served on ``worker_metrics_port``.

**Why multiprocess mode.** Celery's prefork pool runs each job in a child process that exits after the
job (``worker_max_tasks_per_child=1``), so the numbers are made in short-lived children while an HTTP
server must live in the long-lived main process. prometheus_client's multiprocess mode fits exactly:
every process writes its samples to small memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR``, and the
main process's exporter (:func:`start_exporter`, on Celery's ``worker_init``) adds them up at each
scrape. Counters of finished children stay counted (their files stay); gauges of a child go when it
exits (:func:`child_exited`). The directory must be set before prometheus_client is first imported:
:mod:`worker.metrics_dir` does that for the worker (imported first by :mod:`worker.tasks`), so in any
other process (the API, tests) this module's metrics are plain in-process ones.

Several Celery workers on one host (``radis worker --gpus``) share the directory; the first to bind the
port serves the samples of all of them, the others log that the port is taken. Files of processes that
no longer run are removed when a worker starts (:func:`remove_stale_files`): counters restart at zero
with the worker, as Prometheus expects of a restarted target.

The queue depth is read from the store at scrape time (jobs ``queued``: the source of truth, unlike the
broker, whose messages are only doorbells).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy.pool import NullPool

from radis_core.events import ProgressEvent, StepDone
from store.db import make_engine, make_sessionmaker
from store.job_queries import count_jobs_by_status
from store.settings import Settings

log = logging.getLogger(__name__)

#: Where multiprocess samples live (prometheus_client's variable).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Stage durations span seconds (a tiny model) to days (a large corpus on one GPU).
STAGE_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 48 * 3600)

STAGE_SECONDS = Histogram(
    "radis_worker_stage_duration_seconds",
    "Time a job spent in each stage (setup phases included).",
    ["stage"],
    buckets=STAGE_BUCKETS,
)
STAGES = Counter("radis_worker_stages", "Stages entered by jobs, by stage.", ["stage"])
STEPS = Counter("radis_worker_training_steps", "Optimizer steps trained.")
TOKENS = Counter("radis_worker_trained_tokens", "Tokens trained (each step's tokens per second × its seconds).")
TOKENS_PER_SECOND = Gauge(
    "radis_worker_tokens_per_second", "Training throughput of the running job's last step.", multiprocess_mode="livemax"
)
TEACHER_OUTPUTS = Counter(
    "radis_worker_teacher_outputs",
    "Teacher texts (rationales, rewrites, translations) by stage and whether they were generated or read from the cache.",
    ["stage", "source"],
)
GENERATED_TOKENS = Counter("radis_worker_generated_tokens", "Tokens the teacher generated, by stage.", ["stage"])
JOBS = Counter("radis_worker_jobs", "Job runs that ended in this worker, by outcome.", ["outcome"])
RUNNING = Gauge("radis_worker_running_jobs", "Jobs running in this worker now.", multiprocess_mode="livesum")
DEVICE_MEMORY = Gauge(
    "radis_worker_device_memory_bytes",
    "Memory of the running job's device: CUDA allocated and peak allocated, or the process's resident and peak "
    "resident memory on CPU.",
    ["device", "kind"],
    multiprocess_mode="livemax",
)

_PID_FILE = re.compile(r"_(\d+)\.db$")


def multiprocess_enabled() -> bool:
    """True when prometheus_client writes samples to files (it read ``PROMETHEUS_MULTIPROC_DIR`` at import)."""
    from prometheus_client import values

    return "MultiProcess" in type(values.ValueClass).__name__ or MULTIPROC_ENV in os.environ


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_files(folder: Path) -> int:
    """Delete the sample files of processes that no longer run; returns how many went."""
    removed = 0
    for path in folder.glob("*.db"):
        match = _PID_FILE.search(path.name)
        if match and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


class QueueDepthCollector:
    """``radis_worker_queue_depth``: jobs queued in the store, read at scrape time."""

    def __init__(self, settings: Settings) -> None:
        # The exporter's own engine, not the process-wide one a pool child looks up; no pool (a scrape
        # every few seconds connects afresh), so no idle connection of this process lives across a fork.
        self._factory = make_sessionmaker(make_engine(settings.database_url, poolclass=NullPool))

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily("radis_worker_queue_depth", "Jobs queued in the store, waiting for a worker.")
        try:
            with self._factory() as session:
                family.add_metric([], count_jobs_by_status(session).get("queued", 0))
        except Exception as exc:  # a scrape must answer even while the database is away
            log.warning("worker metrics: could not count queued jobs: %s", type(exc).__name__)
            return []
        return [family]


def exporter_registry(settings: Settings, folder: str) -> CollectorRegistry:
    """The exporter's registry (every process's samples, the queue depth), collected once before it is served.

    That first collection must happen here, in the main thread, before the pool forks: it imports modules
    (the database driver among them), and a child forked while the exporter thread holds an import lock
    waits on that lock forever. Reproduced: scrapes from the moment the worker started left its pool child
    hung in ``PGDialect_psycopg.import_dbapi`` (``_ModuleLock.acquire``) and the job never ran.
    """
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)
    registry.register(QueueDepthCollector(settings))
    generate_latest(registry)
    return registry


def start_exporter(settings: Settings) -> bool:
    """Serve the samples of every worker process on ``worker_metrics_port`` (``api_host``); False when
    the port is 0, multiprocess mode is off, or another worker of this host already serves it."""
    port = settings.worker_metrics_port
    if port == 0:
        return False
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder or not multiprocess_enabled():
        log.warning("worker metrics: %s was not set before prometheus_client loaded; not serving", MULTIPROC_ENV)
        return False
    removed = remove_stale_files(Path(folder))
    registry = exporter_registry(settings, folder)
    try:
        start_http_server(port, addr=settings.api_host, registry=registry)
    except OSError as exc:
        log.warning(
            "worker metrics: port %s:%d is taken (%s); another worker of this host serves them", settings.api_host, port, exc
        )
        return False
    log.info(
        "worker metrics on http://%s:%d/metrics (samples in %s; %d stale files removed)", settings.api_host, port, folder, removed
    )
    return True


def child_exited(pid: int | None = None) -> None:
    """A pool child is going: its live gauges (running jobs, memory, throughput) go with it."""
    if multiprocess_enabled() and os.environ.get(MULTIPROC_ENV):
        mark_process_dead(pid or os.getpid(), path=os.environ[MULTIPROC_ENV])


def _sample_memory() -> None:
    torch = sys.modules.get("torch")  # the pipeline imports it; never imported here for a metric
    if torch is not None and torch.cuda.is_available():
        device = f"cuda:{torch.cuda.current_device()}"
        DEVICE_MEMORY.labels(device=device, kind="allocated").set(torch.cuda.memory_allocated())
        DEVICE_MEMORY.labels(device=device, kind="peak").set(torch.cuda.max_memory_allocated())
        return
    import resource

    DEVICE_MEMORY.labels(device="cpu", kind="peak").set(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        DEVICE_MEMORY.labels(device="cpu", kind="resident").set(pages * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, IndexError):
        pass


class JobMetrics:
    """Turns one job's progress events into the metrics above (see :func:`observing`)."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self._since = time.monotonic()

    def record(self, event: ProgressEvent) -> None:
        """Count ``event``: a new stage closes the previous one's duration; steps add tokens."""
        stage = str(event.stage)
        entered = stage != self.stage
        if entered:
            self.close_stage()
            self.stage, self._since = stage, time.monotonic()
            STAGES.labels(stage=stage).inc()
        if isinstance(event, StepDone):
            step = event.metrics
            STEPS.inc()
            if step.tokens_per_second >= 0 and step.step_seconds >= 0:
                TOKENS.inc(step.tokens_per_second * step.step_seconds)
                TOKENS_PER_SECOND.set(step.tokens_per_second)
        data = event.data
        if isinstance(data.get("generated"), int) and isinstance(data.get("from_cache"), int):
            TEACHER_OUTPUTS.labels(stage=stage, source="generated").inc(data["generated"])
            TEACHER_OUTPUTS.labels(stage=stage, source="cached").inc(data["from_cache"])
            if isinstance(data.get("new_tokens"), int):
                GENERATED_TOKENS.labels(stage=stage).inc(data["new_tokens"])
        if entered or isinstance(event, StepDone):
            _sample_memory()

    def close_stage(self) -> None:
        """Record the time spent in the current stage."""
        if self.stage is not None:
            STAGE_SECONDS.labels(stage=self.stage).observe(time.monotonic() - self._since)
            self.stage = None


_current: JobMetrics | None = None


@contextmanager
def job_metrics() -> Iterator[JobMetrics]:
    """The metrics of the job this process runs now (:func:`observing` feeds them)."""
    global _current
    _current = JobMetrics()
    RUNNING.inc()
    try:
        yield _current
    finally:
        _current.close_stage()
        RUNNING.dec()
        _current = None


def observing(on_event: Callable[[ProgressEvent], None]) -> Callable[[ProgressEvent], None]:
    """``on_event``, counting each event first in the running job's metrics (none running: unchanged).
    A metric that fails is logged, never raised: metrics must not break a job."""
    metrics = _current
    if metrics is None:
        return on_event

    def counted(event: ProgressEvent) -> None:
        try:
            metrics.record(event)
        except Exception:
            log.debug("worker metrics: could not count an event", exc_info=True)
        on_event(event)

    return counted


def job_ended(outcome: str) -> None:
    """Count a finished run (succeeded, failed, cancelled, handed back, …)."""
    JOBS.labels(outcome=outcome).inc()
