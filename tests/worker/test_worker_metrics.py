"""The worker's Prometheus metrics (worker/metrics.py), scraped from a real Celery worker while a job of
the tiny model runs: the stage and token counters move, and the queue depth comes from the store."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from radis_cli.demo import free_port
from store import jobs as store_jobs
from store.settings import Settings
from worker.metrics import JobMetrics, remove_stale_files
from worker.metrics_dir import in_celery_worker

from .celery_harness import celery_worker, log_tail
from .conftest import job_events, load_job
from .test_celery_worker import redis_db_url  # noqa: F401  # a fixture: an empty Redis database

_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$")


def scrape(url: str) -> dict[str, float]:
    """``name{labels}`` → value of every sample."""
    samples: dict[str, float] = {}
    for line in httpx.get(url, timeout=10).text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


def _total(samples: dict[str, float], name: str) -> float:
    return sum(value for key, value in samples.items() if key == name or key.startswith(name + "{"))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_scrape_during_a_job_shows_stage_and_token_counters_moving(
    factory: sessionmaker[Session],
    worker_settings: Settings,
    redis_db_url: str,  # noqa: F811  # the imported fixture
    make_job,
    tmp_path: Path,
) -> None:
    from worker.queue import JobQueue

    port = free_port()
    settings = Settings(
        data_dir=worker_settings.data_dir,
        database_url=worker_settings.database_url,
        broker_url=redis_db_url,
        result_backend=redis_db_url,
        cache_dir=worker_settings.cache_dir,
        heartbeat_interval_s=0.5,
        stale_after_s=30,
        worker_metrics_port=port,
    )
    # Long enough to be scraped twice while training; cancelled once it was.
    job_id = make_job(method="radis", hyperparameters={"max_steps": 5000, "checkpoint_every": 5000})
    queued = make_job(method="supervised")  # never sent: it waits in the store's queue
    url = f"http://127.0.0.1:{port}/metrics"
    log = tmp_path / "worker.log"
    with celery_worker(settings, log) as process:
        deadline = time.monotonic() + 400
        seen: list[dict[str, float]] = []
        first_tokens = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                samples = scrape(url)
            except httpx.TransportError:
                time.sleep(0.5)  # the exporter starts with the worker
                continue
            if not seen:
                assert samples["radis_worker_queue_depth"] == 2.0  # both jobs are queued in the store
                assert JobQueue(factory, settings).enqueue(job_id), log_tail(log)
            seen.append(samples)
            tokens = samples.get("radis_worker_trained_tokens_total", 0.0)
            if tokens > 0 and first_tokens is None:
                first_tokens = samples
            elif first_tokens is not None and tokens > first_tokens["radis_worker_trained_tokens_total"]:
                break
            time.sleep(0.3)
        assert first_tokens is not None, log_tail(log)
        during = seen[-1]
        assert load_job(factory, job_id).status == "running"
        # Training moved between two scrapes of the same running job.
        assert during["radis_worker_training_steps_total"] > first_tokens["radis_worker_training_steps_total"]
        assert during["radis_worker_trained_tokens_total"] > first_tokens["radis_worker_trained_tokens_total"]
        assert during["radis_worker_running_jobs"] == 1.0 and during["radis_worker_tokens_per_second"] > 0
        # The stages before training were entered, timed and closed; their teacher outputs counted.
        assert during['radis_worker_stages_total{stage="generating_rationales"}'] == 1.0
        assert during['radis_worker_stages_total{stage="training"}'] == 1.0
        assert during['radis_worker_stage_duration_seconds_count{stage="generating_rationales"}'] == 1.0
        outputs = _total(during, "radis_worker_teacher_outputs_total")
        (ready,) = [e.data for e in job_events(factory, job_id) if e.data and "from_cache" in e.data]
        assert outputs == ready["generated"] + ready["from_cache"] > 0  # as the job's "Rationales ready" event says
        assert _total(during, "radis_worker_device_memory_bytes") > 0
        assert during["radis_worker_queue_depth"] == 1.0  # the sent job runs; the other still waits

        with factory.begin() as session:
            store_jobs.request_cancel(session, load_job(factory, job_id).project_id, job_id)
        while load_job(factory, job_id).status == "running" and time.monotonic() < deadline:
            time.sleep(0.3)
        assert load_job(factory, job_id).status == "cancelled", log_tail(log)
        for _ in range(100):  # the child counts the run's end just after the store says cancelled
            after = scrape(url)
            if after.get('radis_worker_jobs_total{outcome="cancelled"}') == 1.0:
                break
            time.sleep(0.2)
        assert after['radis_worker_jobs_total{outcome="cancelled"}'] == 1.0, log_tail(log)
        # Counters of the child that ran the job outlive it; its live gauges do not.
        assert after["radis_worker_trained_tokens_total"] >= during["radis_worker_trained_tokens_total"]
    assert queued


def test_job_metrics_time_each_stage_once_and_sample_memory() -> None:
    from prometheus_client import REGISTRY

    from radis_core.events import Counted, StageStarted

    before = REGISTRY.get_sample_value("radis_worker_stages_total", {"stage": "evaluating"}) or 0.0
    metrics = JobMetrics()
    metrics.record(StageStarted("evaluating", "Evaluating", total=2))
    metrics.record(Counted("evaluating", "1/2", done=1, total=2))
    metrics.record(Counted("evaluating", "2/2", done=2, total=2, details={"generated": 3, "from_cache": 1, "new_tokens": 40}))
    metrics.close_stage()
    assert REGISTRY.get_sample_value("radis_worker_stages_total", {"stage": "evaluating"}) == before + 1
    assert REGISTRY.get_sample_value("radis_worker_teacher_outputs_total", {"stage": "evaluating", "source": "cached"}) >= 1
    assert (REGISTRY.get_sample_value("radis_worker_device_memory_bytes", {"device": "cpu", "kind": "peak"}) or 0) > 0


def test_the_exporter_is_warmed_before_it_serves_so_a_scrape_imports_nothing(worker_db_url: str, tmp_path: Path) -> None:
    """A pool child forked while the exporter thread held an import lock hung for ever in that import
    (reproduced in psycopg's): every lazy import of a scrape must already be done when serving starts."""
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        f"os.environ['PROMETHEUS_MULTIPROC_DIR'] = {str(tmp_path)!r}\n"
        "from prometheus_client import generate_latest\n"
        "from store.settings import Settings\n"
        "from worker.metrics import exporter_registry\n"
        "registry = exporter_registry(Settings(database_url=sys.argv[1]), os.environ['PROMETHEUS_MULTIPROC_DIR'])\n"
        "before = set(sys.modules)\n"
        "scrape = generate_latest(registry).decode()\n"
        "assert 'radis_worker_queue_depth ' in scrape, scrape\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code, worker_db_url], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_only_a_celery_worker_shares_samples_through_files(tmp_path: Path) -> None:
    assert in_celery_worker(["/venv/lib/python3.11/site-packages/celery/__main__.py", "-A", "worker.app", "worker"])
    assert in_celery_worker(["/venv/bin/celery", "-A", "worker.app", "worker", "-Q", "gpu"])
    assert not in_celery_worker(["/venv/bin/celery", "-A", "worker.app", "inspect"])
    assert not in_celery_worker(["/venv/bin/uvicorn", "api.main:create_app", "worker"])
    (tmp_path / "counter_1.db").write_bytes(b"")  # pid 1 runs, always
    (tmp_path / "counter_999999999.db").write_bytes(b"")  # no such pid
    assert remove_stale_files(tmp_path) == 1 and [p.name for p in tmp_path.iterdir()] == ["counter_1.db"]


def test_the_grafana_dashboard_reads_only_metrics_that_exist() -> None:
    import json

    from prometheus_client import REGISTRY

    from api.metrics import Metrics

    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json").read_text())
    used = {name for panel in dashboard["panels"] for t in panel["targets"] for name in re.findall(r"radis_\w+", t["expr"])}
    exported = {"radis_worker_queue_depth"}  # collected at scrape time from the store
    for registry in (Metrics().registry, REGISTRY):
        for family in registry.collect():
            exported |= {sample.name for sample in family.samples} | {family.name}
    # A labelled family with no sample yet is named without its suffixes (_total, _bucket, _sum, _count).
    exported |= {f"{name}_{suffix}" for name in exported for suffix in ("total", "bucket", "sum", "count")}
    assert used and used <= exported, used - exported
