"""The README's first command: the whole product on one machine, through its HTTP API.

Starts ``radis serve`` (embedded default: SQLite + SQLite broker + a real Celery worker), creates a
key, uploads the en→de demo corpus (Django's human translations, see
:mod:`radis_core.django_corpus`), submits a RaDis job on SmolLM2-135M-Instruct, shows live
progress from the job's events, prints the before/after report and saves the adapter.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markdown import Markdown

from radis_cli.client import download_adapter
from radis_cli.progress import watch
from radis_core import languages

#: Target languages the demo corpus offers (English → X), the RaDis paper's four.
DEMO_LANGS = ("de", "cs", "ru", "zh")

#: Sized so the demo finishes in minutes on a 2-core CPU; a GPU deployment would use the defaults.
DEMO_SETTINGS: dict[str, Any] = {
    # Room for prompt + reference + a rationale at its default budget (256 tokens).
    "hyperparameters": {"max_seq_len": 448},
    "evaluation": {"max_new_tokens": 64, "max_probe_items": 16},
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    """Poll ``base``/readyz until it answers 200; fail early if ``proc`` exits."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with code {proc.returncode} before it was ready")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the service was not ready after {timeout:.0f} s")


def stop_process_group(proc: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM the process group ``proc`` leads, then SIGKILL it if it has not gone within ``grace`` seconds."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    except ProcessLookupError:  # it went between the poll and the signal
        pass


def _create_key(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "radis_cli.main", "keys", "create", "--project", "demo", "--name", "demo"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def _upload(client: httpx.Client, path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        r = client.post("/v1/files", files={"file": (path.name, f, "application/jsonl")}, data={"purpose": "fine-tune"})
    r.raise_for_status()
    return r.json()


def run_demo(
    *,
    out: Path,
    method: str,
    port: int,
    model: str,
    console: Console,
    n_train: int = 80,
    lang: str = "de",
    settings: dict[str, Any] | None = None,
) -> int:
    """Run the demo; returns the process exit code."""
    from radis_core.demo_data import build_demo_corpus
    from radis_core.evaluation.report import render_markdown

    started = time.perf_counter()
    out = out.resolve()
    env = dict(os.environ)
    env.setdefault("RADIS_DATA_DIR", str(out / "service-data"))
    env["PYTHONUNBUFFERED"] = "1"
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"

    train, valid = build_demo_corpus(out / "data", lang=lang, n_train=n_train)
    source = json.loads((out / "data" / "provenance.json").read_text(encoding="utf-8"))
    console.print(
        f"[bold]1/5[/] demo corpus: English→{languages.name(lang)}, human translations from {source['package']} "
        f"{source['version']}'s catalogues ({source['license']}; {out / 'data' / 'provenance.json'})"
    )
    console.print("[bold]2/5[/] API key and embedded service (SQLite, SQLite broker, Celery worker)")
    key = _create_key(env)
    with open(out / "service.log", "w") as log:  # the server keeps its own descriptor of the log
        server = subprocess.Popen(
            [sys.executable, "-m", "radis_cli.main", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(base, server)
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        console.print("[bold]3/5[/] upload")
        tf, vf = _upload(client, train), _upload(client, valid)
        console.print(f"  {tf['id']} {tf['bytes']} bytes, {vf['id']} {vf['bytes']} bytes")
        body = {
            "model": model,
            "training_file": tf["id"],
            "validation_file": vf["id"],
            "seed": 42,
            "suffix": "demo",
            "method": {"type": method, method: settings if settings is not None else DEMO_SETTINGS},
        }
        job = client.post("/v1/fine_tuning/jobs", json=body).raise_for_status().json()
        console.print(f"[bold]4/5[/] job {job['id']} ({method} on {model})")
        job = watch(client, job["id"], console)
        if job["status"] != "succeeded":
            err = job.get("error") or {}
            console.print(f"[red]job {job['status']}[/]: {err.get('code')} {err.get('message')} (see {out / 'service.log'})")
            return 1
        report = client.get(f"/v1/fine_tuning/jobs/{job['id']}/report").raise_for_status().json()
        console.print(Markdown(render_markdown(report)))
        console.print("[bold]5/5[/] adapter download")
        folder, digest = download_adapter(client, job["id"], out / "adapter.tar.gz")
        console.print(f"[bold green]Adapter:[/] {folder}  (sha256 {digest[:16]}…, model {job['fine_tuned_model']})")
        console.print(f"Wall time: {time.perf_counter() - started:.0f} s")
        return 0
    finally:
        stop_process_group(server, grace=30)
