"""The HTTP side of the ``radis`` command: where the server is, which key, requests, SSE, downloads.

Configuration, strongest first: ``--base-url``/``--api-key`` options, the ``RADIS_BASE_URL`` and
``RADIS_API_KEY`` environment variables, then the file ``radis login`` writes
(``$RADIS_CONFIG``, else ``$XDG_CONFIG_HOME/radis/config.json``, else ``~/.config/radis/config.json``;
mode 0600, since it holds a secret).

This module imports no torch (the CLI must start fast): httpx only.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})

# Exit codes (README "The radis command"): scripts can tell a failed job from a dead server.
EXIT_OK = 0
#: The server refused the request (bad input, not found, ...), or a local check refused it.
EXIT_ERROR = 1
#: Click's own code for a bad command line.
EXIT_USAGE = 2
EXIT_JOB_FAILED = 3
EXIT_JOB_CANCELLED = 4
#: No answer from the server (connection refused, DNS, timeout).
EXIT_UNREACHABLE = 5
#: The key is missing, unknown or revoked (401).
EXIT_AUTH = 6


def exit_code_for_status(status: str) -> int:
    """The exit code that reports a finished job's status."""
    return {"succeeded": EXIT_OK, "failed": EXIT_JOB_FAILED, "cancelled": EXIT_JOB_CANCELLED}.get(status, EXIT_ERROR)


class CLIError(Exception):
    """A failure the command reports in one line and turns into ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --- configuration ---------------------------------------------------------------------------------


def config_path() -> Path:
    """Where ``radis login`` keeps the base URL and key."""
    if os.environ.get("RADIS_CONFIG"):
        return Path(os.environ["RADIS_CONFIG"]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "radis" / "config.json"


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The saved configuration, or ``{}`` when there is none; a corrupt file is an error naming it."""
    path = path or config_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CLIError(f"{path}: not a readable radis config ({exc}); run `radis login` again") from None
    if not isinstance(data, dict):
        raise CLIError(f"{path}: expected a JSON object; run `radis login` again")
    return data


def save_config(base_url: str, api_key: str, path: Path | None = None) -> Path:
    """Write the configuration with mode 0600 (created so, never readable by others even for a moment)."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"base_url": base_url, "api_key": api_key}, handle, indent=2)
    os.chmod(tmp, 0o600)  # an existing tmp file keeps its old mode through O_CREAT
    os.replace(tmp, path)
    return path


@dataclass(frozen=True)
class Connection:
    """Where to send requests and with which key."""

    base_url: str
    api_key: str | None


#: The ``radis --base-url/--api-key`` options, set once by the app's callback for every command.
_global_options: dict[str, str | None] = {"base_url": None, "api_key": None}


def set_global_options(base_url: str | None, api_key: str | None) -> None:
    """Remember ``radis``'s own ``--base-url``/``--api-key`` (they outrank the environment and the config)."""
    _global_options.update(base_url=base_url, api_key=api_key)


def global_option(name: str) -> str | None:
    """``radis``'s own ``--base-url`` or ``--api-key`` (``name`` without dashes), if given."""
    return _global_options[name]


def resolve_connection(base_url: str | None = None, api_key: str | None = None) -> Connection:
    """Options (a command's, then ``radis``'s), then environment, then the config file, then the default URL."""
    base_url = base_url or _global_options["base_url"]
    api_key = api_key or _global_options["api_key"]
    saved: dict[str, Any] = {}
    if not (base_url or os.environ.get("RADIS_BASE_URL")) or not (api_key or os.environ.get("RADIS_API_KEY")):
        saved = load_config()
    url = base_url or os.environ.get("RADIS_BASE_URL") or saved.get("base_url") or DEFAULT_BASE_URL
    key = api_key or os.environ.get("RADIS_API_KEY") or saved.get("api_key")
    return Connection(url.rstrip("/"), key)


# --- requests --------------------------------------------------------------------------------------


def _error_message(response: httpx.Response) -> str:
    """The ``message`` of OpenAI's error envelope, else the start of the body."""
    try:
        error = response.json().get("error") or {}
        message = error.get("message") or response.text
        param = error.get("param")
        return f"{message} (param: {param})" if param and param not in message else message
    except (ValueError, AttributeError):
        return response.text[:300] or response.reason_phrase


class ApiClient:
    """The service's HTTP API: JSON requests with the key, errors as :class:`CLIError` with exit codes."""

    def __init__(self, connection: Connection, *, timeout: float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {connection.api_key}"} if connection.api_key else {}
        self.connection = connection
        self.http = httpx.Client(base_url=connection.base_url, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request; the decoded JSON answer, or :class:`CLIError` saying what went wrong."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise unreachable(self.connection.base_url, exc) from None
        check(response)
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def all_events(self, job_id: str) -> list[dict[str, Any]]:
        """Every event of the job, oldest first (pages of ``GET …/events`` followed to the end)."""
        events: list[dict[str, Any]] = []
        after = None
        while True:
            page = self.get(f"/v1/fine_tuning/jobs/{job_id}/events", limit=100, after=after)
            events.extend(page["data"])
            if not page["has_more"] or not page["data"]:
                return list(reversed(events))
            after = page["data"][-1]["id"]


def unreachable(base_url: str, exc: Exception) -> CLIError:
    """The error for a server that does not answer."""
    return CLIError(f"could not reach the RaDis server at {base_url}: {exc}", EXIT_UNREACHABLE)


def check(response: httpx.Response) -> None:
    """Raise :class:`CLIError` for an error answer (401 gets its own exit code)."""
    if response.is_success:
        return
    if response.status_code == 401:
        raise CLIError(
            f"the server refused the API key: {_error_message(response)} Run `radis login` or set RADIS_API_KEY.", EXIT_AUTH
        )
    raise CLIError(f"HTTP {response.status_code}: {_error_message(response)}")


# --- Server-Sent Events ----------------------------------------------------------------------------


@dataclass
class SSEMessage:
    """One message of an event stream."""

    event: str
    data: str
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse(lines: Iterator[str]) -> Iterator[SSEMessage]:
    """SSE messages from the stream's lines (the WHATWG rules the service uses: ``field: value``,
    blank line ends a message, ``:`` starts a comment, several ``data:`` lines are joined by newlines)."""
    data: list[str]
    event, data, event_id = "message", [], None
    for line in lines:
        if line == "":
            if data:
                yield SSEMessage(event, "\n".join(data), event_id)
            event, data, event_id = "message", [], None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
    if data:
        yield SSEMessage(event, "\n".join(data), event_id)


def follow_events(
    http: httpx.Client, job_id: str, *, last_event_id: str | None = None, reconnects: int = 5
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The job's events from ``GET …/events/stream``, oldest first, as ``("event", event)`` pairs, then
    ``("end", job)`` once the job is finished. A dropped connection is resumed with ``Last-Event-ID``
    (up to ``reconnects`` times in a row), so nothing is lost or repeated."""
    failures = 0
    connected = False
    while True:
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        if failures:
            time.sleep(min(failures, 5))  # back off while the server restarts
        try:
            with http.stream(
                "GET", f"/v1/fine_tuning/jobs/{job_id}/events/stream", headers=headers, timeout=httpx.Timeout(30.0, read=None)
            ) as response:
                if not response.is_success:
                    response.read()
                    check(response)
                connected = True
                for message in parse_sse(response.iter_lines()):
                    failures = 0
                    if message.event == "end":
                        yield "end", message.json()
                        return
                    last_event_id = message.id or last_event_id
                    yield "event", message.json()
        except httpx.TransportError as exc:
            failures += 1
            # A server that never answered is reported at once; a dropped stream is resumed.
            if not connected or failures > reconnects:
                raise unreachable(str(http.base_url), exc) from None
            continue
        # The server closed the stream without its end message (restart, proxy): resume.
        failures += 1
        if failures > reconnects:
            raise CLIError(f"the event stream of {job_id} kept closing before the job finished")


# --- downloads --------------------------------------------------------------------------------------


def download_to(client: httpx.Client, path: str, dest: Path, on_progress: Callable[[int, int | None], None] | None = None) -> str:
    """Stream ``GET path`` into ``dest`` and check its sha256 against the server's ``X-Content-SHA256``
    (a mismatch deletes the file and raises); returns the sha256."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    received = 0
    try:
        with client.stream("GET", path) as response:
            if not response.is_success:
                response.read()
                check(response)
            expected = response.headers.get("x-content-sha256")
            total = int(response.headers["content-length"]) if "content-length" in response.headers else None
            with open(dest, "wb") as handle:
                for chunk in response.iter_bytes(1 << 20):
                    digest.update(chunk)
                    handle.write(chunk)
                    received += len(chunk)
                    if on_progress:
                        on_progress(received, total)
    except httpx.TransportError as exc:
        dest.unlink(missing_ok=True)
        raise unreachable(str(client.base_url), exc) from None
    if expected and expected != digest.hexdigest():
        dest.unlink(missing_ok=True)
        raise CLIError(f"sha256 mismatch: server {expected}, received {digest.hexdigest()}; the download was deleted")
    return digest.hexdigest()


# --- adapter download -------------------------------------------------------------------------------


def download_adapter(
    client: httpx.Client, job_id: str, dest: Path, on_progress: Callable[[int, int | None], None] | None = None
) -> tuple[Path, str]:
    """Stream the adapter tar.gz to ``dest``, check its sha256 against the server's, unpack it beside.

    ``on_progress(received_bytes, total_bytes_or_None)`` is called per chunk. Returns the folder that
    ``PeftModel.from_pretrained`` takes and the sha256. A mismatch deletes the download and raises."""
    sha256 = download_to(client, f"/v1/fine_tuning/jobs/{job_id}/adapter", dest, on_progress)
    folder = dest.with_suffix("").with_suffix("")
    with tarfile.open(dest) as tar:
        tar.extractall(folder, filter="data")
    # The archive holds one top-level folder; point at the one PeftModel.from_pretrained takes.
    config = next(folder.rglob("adapter_config.json"), None)
    return (config.parent if config else folder), sha256
