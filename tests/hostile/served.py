"""A real API process for the abuse tests, and raw-socket clients that behave the way the attacks did.

:func:`served_api` runs ``python -m api`` (uvicorn with :func:`api.server.uvicorn_options`) on a fresh,
migrated Postgres database of its own, with extra ``RADIS_*`` settings; :class:`RawRequest` is one HTTP
request written byte by byte on a socket of its own (httpx would never send a body one byte at a time).
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from radis_cli.demo import free_port, stop_process_group
from store.db import make_engine, make_sessionmaker, session_scope
from store.keys import create_key
from store.projects import create_project

REPO_ROOT = Path(__file__).resolve().parents[2]
BOUNDARY = b"zz"
#: The multipart framing up to the first byte of the file: what a slow upload sends before it trickles.
UPLOAD_HEAD = (
    b'--zz\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
    b'--zz\r\nContent-Disposition: form-data; name="file"; filename="slow.jsonl"\r\n\r\n'
)


@dataclass
class Served:
    """A running API process and a way to make projects with keys in its database."""

    base: str
    port: int
    process: subprocess.Popen[bytes]
    new_key: Callable[..., str]
    database_url: str

    def rss_bytes(self) -> int:
        """The API process's resident memory now."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS line")


@contextmanager
def served_api(
    make_pg_database: Callable[..., str], data_dir: Path, *, database_url: str | None = None, **settings: str
) -> Iterator[Served]:
    """``python -m api`` on a new database (or ``database_url``'s: a second process of one deployment)
    with ``RADIS_<NAME>=value`` for each of ``settings``."""
    url = database_url or make_pg_database()
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    counter = iter(range(10**6))

    def new_key(name: str | None = None, **limits: int) -> str:
        with session_scope(factory) as session:
            project = create_project(session, name or f"project-{next(counter)}", **limits)
            return create_key(session, project.id, "k")[0]

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADIS_")}
    env.update(
        RADIS_DATA_DIR=str(data_dir),
        RADIS_DATABASE_URL=url,
        RADIS_BROKER_URL=f"sqla+sqlite:///{data_dir / 'broker.db'}",
        RADIS_RESULT_BACKEND=f"db+sqlite:///{data_dir / 'results.db'}",
        RADIS_CACHE_DIR=str(data_dir / "cache"),
        RADIS_API_HOST="127.0.0.1",
        RADIS_API_PORT=str(port),
        **{f"RADIS_{name.upper()}": value for name, value in settings.items()},
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "api.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "api"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (data_dir / "api.log").read_text()[-3000:]
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)
        yield Served(base=base, port=port, process=process, new_key=new_key, database_url=url)
    finally:
        stop_process_group(process)
        log.close()
        engine.dispose()


class RawRequest:
    """One HTTP/1.1 request on its own socket: the head is sent at once, the body as the test likes."""

    def __init__(self, port: int, method: str, path: str, headers: dict[str, str], *, body_start: bytes = b"") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.sock.sendall(head.encode("latin-1") + b"\r\n" + body_start)
        self.received = b""

    def send(self, data: bytes) -> bool:
        """Send ``data``; ``False`` once the server has closed the connection."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def answered(self) -> bool:
        """Whether any byte of an answer (or the close) has arrived, without waiting."""
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    def status(self, timeout: float = 30) -> int:
        """The status code of the answer (waits up to ``timeout`` seconds for its first line)."""
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.received:
            left = deadline - time.monotonic()
            assert left > 0, f"no answer within {timeout} s"
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.received += chunk
        assert self.received.startswith(b"HTTP/1.1 "), self.received[:200]
        return int(self.received.split(b" ", 2)[1])

    def answer(self, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body of the answer, read until the server closes or the body is complete."""
        status = self.status(timeout)
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.received or not self._complete():
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            self.received += chunk
        head, _, body = self.received.partition(b"\r\n\r\n")
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers, body

    def _complete(self) -> bool:
        head, _, body = self.received.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                return len(body) >= int(line.split(b":")[1])
        return False

    def closed_by_server(self, timeout: float = 10) -> bool:
        """Whether the server closes the connection within ``timeout`` seconds (after its answer)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.received += chunk
        return False

    def close(self) -> None:
        self.sock.close()
