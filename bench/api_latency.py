"""Target 6: job create and job get latency (p50/p99) at 32 concurrent clients on Postgres.

A thin front to ``bench/load.py`` (same service setup: a fresh migrated Postgres database, a uvicorn
API process, an empty Redis database as a broker nobody consumes) at the issue's concurrency. Every
client creates ``--jobs-per-client`` jobs one after another and GETs each ``--polls`` times; the
script exits 1 if load.py's checks (each job stored once and queued once, no failures) do not hold.

    .venv/bin/python bench/api_latency.py
    .venv/bin/python bench/api_latency.py --jobs-per-client 10 --api-workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load
from _common import machine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--jobs-per-client", type=int, default=4)
    parser.add_argument("--polls", type=int, default=5)
    parser.add_argument("--projects", type=int, default=8)
    parser.add_argument("--api-workers", type=int, default=1)
    parser.add_argument(
        "--pg", default=os.environ.get("RADIS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--redis-db", type=int, default=12, help="an empty Redis database number (flushed afterwards)")
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args(argv)
    if min(args.clients, args.jobs_per_client, args.projects, args.api_workers) < 1:
        parser.error("--clients, --jobs-per-client, --projects and --api-workers must be >= 1")

    result = load.run(args)
    result["machine"] = machine()
    print(json.dumps(result, indent=2))
    create, get = result["latency_ms"].get("create", {}), result["latency_ms"].get("poll", {})
    ok = all(result["checks"].values())
    print(
        f"api: {args.clients} clients, {result['throughput_rps']} req/s; job create p50 {create.get('p50')} ms / "
        f"p99 {create.get('p99')} ms; job get p50 {get.get('p50')} ms / p99 {get.get('p99')} ms; "
        f"checks {'hold' if ok else 'FAILED'}",
        flush=True,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
