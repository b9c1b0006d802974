"""Log lines an operator can follow: a request id and a job id on each, as text or as JSON.

``RADIS_LOG_FORMAT=json`` (:attr:`store.settings.Settings.log_format`) makes every line of the API and
the worker one JSON object with ``ts``, ``level``, ``logger``, ``message``, ``request_id`` and
``job_id`` (``null`` where a line belongs to no request or no job), plus ``exc_info`` for a traceback.
The default ``text`` keeps each process's usual format; the two ids are still available to a format
string as ``%(request_id)s`` and ``%(job_id)s``.

The ids travel in context variables: the API's :class:`api.request_id.RequestIdMiddleware` sets both
for a request (the job id when the path names one), the worker sets the job id for the job it runs
(:func:`job_context`). Threads do not inherit context variables, so a job id also sets a process-wide
fallback: a worker child runs one job at a time, and its heartbeat thread's lines name that job too.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]

REQUEST_ID: ContextVar[str | None] = ContextVar("radis_request_id", default=None)
JOB_ID: ContextVar[str | None] = ContextVar("radis_job_id", default=None)
_process_job_id: str | None = None

#: A caller's ``X-Request-ID`` is kept when it matches this (letters, digits and ``._:-``, up to 128
#: characters): nothing that could split a log line or a header, nothing unbounded.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

#: Loggers whose handlers uvicorn and Celery configure themselves (their formatters are replaced for JSON).
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "celery.task", "celery.worker")


def is_valid_request_id(value: str | None) -> bool:
    """True when a caller's request id may be kept as it is."""
    return bool(value) and REQUEST_ID_PATTERN.fullmatch(value or "") is not None


def new_request_id() -> str:
    """A fresh request id (32 hex characters)."""
    return secrets.token_hex(16)


def current_job_id() -> str | None:
    """The job this line belongs to: the context's, else the process's (see the module docstring)."""
    return JOB_ID.get() or _process_job_id


@contextmanager
def job_context(job_id: str) -> Iterator[None]:
    """Lines logged inside the block (in this process, any thread) carry ``job_id``."""
    global _process_job_id
    token = JOB_ID.set(job_id)
    before, _process_job_id = _process_job_id, job_id
    try:
        yield
    finally:
        _process_job_id = before
        JOB_ID.reset(token)


class ContextFilter(logging.Filter):
    """Puts ``request_id`` and ``job_id`` on every record (an explicit ``extra=`` value wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        if getattr(record, "job_id", None) is None:
            record.job_id = current_job_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module docstring for its keys)."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
            "job_id": getattr(record, "job_id", None) or current_job_id(),
            "process": record.process,
        }
        if record.exc_info:
            body["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False, default=str)


def _handlers(names: tuple[str, ...]) -> list[logging.Handler]:
    found: list[logging.Handler] = []
    for logger in [logging.getLogger(), *(logging.getLogger(name) for name in names)]:
        found.extend(h for h in logger.handlers if h not in found)
    return found


def configure_logging(
    log_format: LogFormat, *, level: int = logging.INFO, extra_handlers: Sequence[logging.Handler] = ()
) -> None:
    """Give every handler of the process the id filter; with ``json``, the JSON formatter as well.

    Idempotent, and safe to call after uvicorn or Celery set up their own handlers (it changes those
    handlers rather than adding more). With ``json`` and no root handler yet, one writing to stderr is
    added so that the app's own loggers are not lost."""
    root = logging.getLogger()
    if log_format == "json" and not root.handlers:
        root.addHandler(logging.StreamHandler())
        root.setLevel(level)
    for handler in [*_handlers(SERVER_LOGGERS), *extra_handlers]:
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())
        if log_format == "json":
            handler.setFormatter(JsonFormatter())
