"""store.logs: the job id reaches every thread of a job's process; JSON lines carry both ids."""

from __future__ import annotations

import json
import logging
import threading

from store.logs import ContextFilter, JsonFormatter, configure_logging, job_context


def _record(message: str) -> logging.LogRecord:
    record = logging.LogRecord("radis.test", logging.INFO, __file__, 1, message, None, None)
    ContextFilter().filter(record)
    return record


def test_a_job_id_reaches_threads_started_inside_the_job() -> None:
    seen: list[str | None] = []
    with job_context("ftjob-xyz"):
        assert _record("main").job_id == "ftjob-xyz"  # type: ignore[attr-defined]  # set by the filter
        thread = threading.Thread(target=lambda: seen.append(_record("heartbeat").job_id))  # type: ignore[attr-defined]
        thread.start()
        thread.join()
    assert seen == ["ftjob-xyz"]
    assert _record("after").job_id is None  # type: ignore[attr-defined]


def test_json_lines_have_the_documented_keys_and_a_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("radis.test", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info())
    ContextFilter().filter(record)
    with job_context("ftjob-1"):
        line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed x" and line["level"] == "error" and line["logger"] == "radis.test"
    assert line["request_id"] is None and "ValueError: boom" in line["exc_info"] and line["ts"].endswith("+00:00")


def test_configure_logging_json_reformats_existing_handlers_once() -> None:
    root, access = logging.getLogger(), logging.getLogger("uvicorn.access")
    # pytest's own capture handlers sit on the root logger: keep them out of reach and put them back.
    saved_handlers, saved_level = root.handlers[:], root.level
    handler = logging.StreamHandler()
    root.handlers = []
    access.addHandler(handler)
    try:
        configure_logging("json")
        configure_logging("json")
        assert isinstance(handler.formatter, JsonFormatter)
        assert sum(isinstance(f, ContextFilter) for f in handler.filters) == 1
        # The app's own loggers get a JSON handler on the root when nothing else would print them.
        (added,) = root.handlers
        assert isinstance(added.formatter, JsonFormatter)
    finally:
        access.removeHandler(handler)
        root.handlers = saved_handlers
        root.setLevel(saved_level)
