"""API load test: many concurrent clients create fine-tuning jobs and poll them, on loopback only.

Starts everything it needs and removes it afterwards: a fresh Postgres database (``CREATE DATABASE`` on
the server of ``--pg``, migrated by Alembic), an API process (``uvicorn api.main:create_app --factory``,
``--api-workers`` processes), and a Redis database number (``--redis-db``, which must be empty) as the
broker that **no worker consumes**, so every job stays queued and every message stays in the queue.
Then ``--clients`` asyncio clients (httpx) each create ``--jobs-per-client`` jobs and poll each one
``--polls`` times. Reports p50/p95/p99 latency per operation and throughput, then checks that every
created job exists exactly once in the store and exactly once in the broker's queue (exit status 1 if
not).

    .venv/bin/python bench/load.py --clients 200 --jobs-per-client 2 --polls 5

Bounded: ``clients × jobs × (1 + polls)`` requests and a ``--timeout`` on the whole run.

``--code DIR`` serves (and sets up the database with) the service code of another checkout, e.g. an older
commit in a ``git worktree``, with the same clients: ``bench/load_compare.py`` runs both side by side.
``--profile FILE`` records the API process with py-spy while the clients run (a flame graph, SVG).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import redis
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url


def _code_root(argv: list[str]) -> Path:
    """The checkout whose service code is measured: ``--code DIR`` if given (read before any import of it)."""
    for i, arg in enumerate(argv):
        if arg == "--code" and i + 1 < len(argv):
            return Path(argv[i + 1]).resolve()
        if arg.startswith("--code="):
            return Path(arg.split("=", 1)[1]).resolve()
    return Path(__file__).resolve().parents[1]


CODE_ROOT = _code_root(sys.argv[1:])
# The service code measured comes from CODE_ROOT, so its imports must follow this (hence the noqa: E402).
sys.path.insert(0, str(CODE_ROOT))

from radis_cli.demo import stop_process_group, wait_ready  # noqa: E402
from store.db import make_engine, make_sessionmaker, session_scope  # noqa: E402
from store.keys import create_key  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import Job  # noqa: E402
from store.projects import create_project  # noqa: E402
from worker.app import GPU_QUEUE  # noqa: E402


@dataclass
class Timings:
    """Latencies (seconds) per operation, and failures by operation and status."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: Counter = field(default_factory=Counter)

    def add(self, operation: str, seconds: float) -> None:
        self.latencies.setdefault(operation, []).append(seconds)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, nearest-rank."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def corpus() -> bytes:
    return "".join(
        json.dumps({"source": f"Das ist Satz {i}.", "target": f"This is sentence {i}.", "src_lang": "de", "tgt_lang": "en"})
        + "\n"
        for i in range(16)
    ).encode()


async def client_session(base: str, key: str, file_id: str, jobs: int, polls: int, timings: Timings, created: list[str]) -> None:
    """One client: create ``jobs`` jobs one after another, polling each ``polls`` times."""
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        for _ in range(jobs):
            start = time.perf_counter()
            response = await client.post(
                "/v1/fine_tuning/jobs", json={"model": "smollm2-135m-instruct", "training_file": file_id}
            )
            timings.add("create", time.perf_counter() - start)
            if response.status_code != 200:
                timings.failures[f"create {response.status_code}"] += 1
                continue
            job_id = response.json()["id"]
            created.append(job_id)
            for _ in range(polls):
                start = time.perf_counter()
                poll = await client.get(f"/v1/fine_tuning/jobs/{job_id}")
                timings.add("poll", time.perf_counter() - start)
                if poll.status_code != 200 or poll.json()["status"] != "queued":
                    timings.failures[f"poll {poll.status_code}"] += 1


def queued_job_ids(broker: redis.Redis) -> list[str]:
    """The job id of every ``radis.run_job`` message waiting in the ``gpu`` queue (kombu's Redis list)."""
    ids = []
    for raw in broker.lrange(GPU_QUEUE, 0, -1):
        message = json.loads(raw)
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args, _kwargs, _embed = json.loads(body)
        ids.append(args[0])
    return ids


@dataclass
class LoadService:
    """A started API on a fresh, migrated Postgres database, with one API key per project."""

    base: str
    database: str
    keys: list[str]
    factory: object  # sessionmaker of the fresh database
    broker: redis.Redis
    api: subprocess.Popen
    data_dir: Path
    db_url: str


@contextmanager
def started_service(
    pg: str, broker_url: str, *, projects: int, api_workers: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[LoadService]:
    """Create and migrate a fresh database on ``pg``, start uvicorn on it, yield; remove it all afterwards.

    The Redis database of ``broker_url`` must be empty (it is flushed afterwards).
    """
    pg_server = make_url(pg)
    database = f"radis_load_{secrets.token_hex(4)}"
    admin = make_engine(pg, isolation_level="AUTOCOMMIT")
    broker = redis.Redis.from_url(broker_url)
    if broker.dbsize():
        raise SystemExit(f"Redis database {broker_url} is not empty; pick an unused one with --redis-db")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    db_url = pg_server.set(database=database).render_as_string(hide_password=False)
    api = None
    data_dir = Path(tempfile.mkdtemp(prefix="radis-load-"))
    try:
        upgrade(db_url)
        factory = make_sessionmaker(make_engine(db_url))
        keys = []
        with session_scope(factory) as session:
            for i in range(projects):
                project = create_project(session, f"load-{i}", max_concurrent_jobs=10**6)
                keys.append(create_key(session, project.id, "load")[0])

        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RADIS_")}
        env["PYTHONPATH"] = str(CODE_ROOT)
        env.update(
            RADIS_DATA_DIR=str(data_dir),
            RADIS_DATABASE_URL=db_url,
            RADIS_BROKER_URL=broker_url,
            RADIS_RESULT_BACKEND=broker_url,
            RADIS_CACHE_DIR=str(data_dir / "cache"),
        )
        env.update(extra_env or {})
        # the child keeps its own copy of the descriptor; the parent closes its one once the child started
        with open(data_dir / "api.log", "wb") as log:
            api = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "api.main:create_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    str(api_workers),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                cwd=CODE_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, api, timeout=60)
        except RuntimeError as exc:
            raise SystemExit(f"{exc}: {(data_dir / 'api.log').read_text()[-2000:]}") from None
        yield LoadService(
            base=base, database=database, keys=keys, factory=factory, broker=broker, api=api, data_dir=data_dir, db_url=db_url
        )
    finally:
        if api is not None:
            stop_process_group(api)
        broker.flushdb()
        shutil.rmtree(data_dir, ignore_errors=True)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def _start_profiler(pid: int, output: Path) -> subprocess.Popen:
    """py-spy recording ``pid`` and its children (uvicorn's workers) into ``output`` until SIGINT.

    An ``.svg`` output is a flame graph; any other is py-spy's collapsed stacks (one line per stack)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    kind = "flamegraph" if output.suffix == ".svg" else "raw"
    profiler = subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--subprocesses", "--rate", "100", "--format", kind, "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)  # let it attach before the clients start
    return profiler


class CpuMeter:
    """CPU seconds spent while the clients run: this process (the clients), the API's processes, and the
    Postgres server processes attached to the benchmark's database (sampled every 0.2 s, so that a
    connection's process that ends meanwhile still counts up to its last sample).

    CPU per request does not depend on how busy the rest of the machine is, unlike throughput.
    """

    def __init__(self, api_pid: int, database: str) -> None:
        self.api = psutil.Process(api_pid)
        self.database = database
        self._seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_postgres, daemon=True)

    def _api_seconds(self) -> float:
        total = 0.0
        for process in [self.api, *self.api.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total

    def _sample_postgres(self) -> None:
        marker = f" {self.database} "
        while not self._stop.wait(0.2):
            for process in psutil.process_iter(["cmdline", "cpu_times"]):
                cmdline = " ".join(process.info["cmdline"] or [])
                times = process.info["cpu_times"]
                if marker in f" {cmdline} " and times is not None:
                    self._seen[process.pid] = times.user + times.system

    def __enter__(self) -> CpuMeter:
        self._client0 = time.process_time()
        self._api0 = self._api_seconds()
        self._thread.start()
        time.sleep(0.3)
        self._pg0 = dict(self._seen)
        return self

    def __exit__(self, *_: object) -> None:
        self.client = time.process_time() - self._client0
        self.api_cpu = self._api_seconds() - self._api0
        self._stop.set()
        self._thread.join()
        self.postgres = sum(seconds - self._pg0.get(pid, 0.0) for pid, seconds in self._seen.items())


def run(args: argparse.Namespace) -> dict:
    broker_url = f"redis://{args.redis_host}:{args.redis_port}/{args.redis_db}"
    with started_service(args.pg, broker_url, projects=args.projects, api_workers=args.api_workers) as service:
        base, keys, factory, broker = service.base, service.keys, service.factory, service.broker
        file_ids = []
        for key in keys:
            upload = httpx.post(
                f"{base}/v1/files",
                headers={"Authorization": f"Bearer {key}"},
                files={"file": ("train.jsonl", corpus())},
                data={"purpose": "fine-tune"},
                timeout=30,
            )
            upload.raise_for_status()
            file_ids.append(upload.json()["id"])

        # One job first, untimed: the API imports and connects its queue client on the first enqueue.
        warm = httpx.post(
            f"{base}/v1/fine_tuning/jobs",
            headers={"Authorization": f"Bearer {keys[0]}"},
            json={"model": "smollm2-135m-instruct", "training_file": file_ids[0]},
            timeout=60,
        )
        warm.raise_for_status()
        timings, created = Timings(), []

        async def all_clients() -> None:
            await asyncio.gather(
                *(
                    client_session(
                        base, keys[i % len(keys)], file_ids[i % len(keys)], args.jobs_per_client, args.polls, timings, created
                    )
                    for i in range(args.clients)
                )
            )

        profiler = _start_profiler(service.api.pid, args.profile) if args.profile else None
        with CpuMeter(service.api.pid, service.database) as cpu:
            started = time.perf_counter()
            asyncio.run(asyncio.wait_for(all_clients(), timeout=args.timeout))
            elapsed = time.perf_counter() - started
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its record on SIGINT
            profiler.wait(60)

        with session_scope(factory) as session:
            stored = Counter(session.scalars(select(Job.id)).all())
            statuses = Counter(session.scalars(select(Job.status)).all())
            total = session.scalar(select(func.count()).select_from(Job))
        queued = Counter(queued_job_ids(broker))
        expected = args.clients * args.jobs_per_client
        every_job = [warm.json()["id"], *created]
        requests = sum(len(v) for v in timings.latencies.values())
        report = {
            "code": str(CODE_ROOT),
            "clients": args.clients,
            "projects": args.projects,
            "api_workers": args.api_workers,
            "jobs_created": len(created),
            "requests": requests,
            "seconds": round(elapsed, 2),
            "throughput_rps": round(requests / elapsed, 1),
            "cpu_ms_per_request": {
                "api": round(1000 * cpu.api_cpu / requests, 2),
                "postgres": round(1000 * cpu.postgres / requests, 2),
                "clients": round(1000 * cpu.client / requests, 2),
            },
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "latency_ms": {
                op: {
                    "p50": round(1000 * percentile(v, 50), 1),
                    "p95": round(1000 * percentile(v, 95), 1),
                    "p99": round(1000 * percentile(v, 99), 1),
                    "mean": round(1000 * statistics.fmean(v), 1),
                    "n": len(v),
                }
                for op, v in sorted(timings.latencies.items())
            },
            "failures": dict(timings.failures),
            "store": {"jobs": total, "statuses": dict(statuses)},
            "queue": {"messages": sum(queued.values())},
            "checks": {
                "every_job_created": len(created) == expected and not timings.failures,
                "each_job_once_in_store": set(stored) == set(every_job)
                and all(n == 1 for n in stored.values())
                and total == len(every_job),
                "each_job_once_in_queue": set(queued) == set(every_job) and all(n == 1 for n in queued.values()),
            },
        }
        return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients")
    parser.add_argument("--jobs-per-client", type=int, default=2)
    parser.add_argument("--polls", type=int, default=5, help="GETs of each job after creating it")
    parser.add_argument("--projects", type=int, default=10, help="projects the clients are spread over")
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--pg",
        default=os.environ.get("RADIS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
        help="a Postgres server URL where CREATE DATABASE may run",
    )
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--redis-db", type=int, default=13, help="an empty Redis database number (flushed afterwards)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds the clients may take in all")
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--code", type=Path, help="serve the service code of this checkout (default: this one)")
    parser.add_argument(
        "--profile", type=Path, help="record the API with py-spy while the clients run (.svg: flame graph, else collapsed stacks)"
    )
    args = parser.parse_args(argv)
    for name in ("clients", "jobs_per_client", "projects", "api_workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: must be >= 1")
    report = run(args)
    text_report = json.dumps(report, indent=2)
    print(text_report)
    if args.json:
        args.json.write_text(text_report + "\n")
    return 0 if all(report["checks"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
