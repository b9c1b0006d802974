"""A worker that is told to stop hands its job back instead of leaving it to the stale timeout.

``SIGTERM`` to the Celery worker (``docker stop``, ``radis worker`` stopping, the parent of ``radis serve``
gone) starts Celery's warm shutdown in its main process, which then forwards the signal to its pool
children (:func:`forward_to_pool_children`, on ``worker_shutting_down``). A child running a job only
records the request (:func:`running_job`, :func:`drain_requested`): the pipeline's cancel check raises
:class:`~radis_core.events.JobInterrupted` before the next step, training checkpoints the steps it
finished, and :func:`worker.runner.run_claimed_job` hands the job back to the queue for another worker
to resume at once. An idle child dies as it would have.

A pool child also gets ``SIGTERM`` when its parent dies, even by ``SIGKILL`` (:func:`die_with_parent`;
Celery's own default is ``SIGKILL``, which would leave the job to the stale timeout). Stdlib only:
``radis_cli`` uses :func:`die_with_parent` for the processes it starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

#: ``prctl`` option of Linux that asks for a signal when the parent process exits.
_PR_SET_PDEATHSIG = 1

_requested = threading.Event()


def drain_requested() -> bool:
    """True once this process was asked to stop while it ran a job (``SIGTERM`` inside :func:`running_job`)."""
    return _requested.is_set()


def request_drain() -> None:
    """Ask the job running in this process to stop at its next step and go back to the queue."""
    _requested.set()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    request_drain()


@contextlib.contextmanager
def running_job() -> Iterator[None]:
    """While the block runs a job, ``SIGTERM`` drains it instead of ending the process; before and after,
    the process's own handler applies (billiard's, which exits: an idle child has nothing to hand back).

    Installed per job, not at the child's start: billiard replaces a ``SIGTERM`` handler set by
    ``worker_process_init`` with its own right after. Only the main thread may set handlers; elsewhere
    (a thread pool) the block changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def die_with_parent(signum: int = signal.SIGTERM, parent_pid: int | None = None) -> None:
    """Have Linux send ``signum`` to this process when its parent exits, however it exits (a no-op elsewhere).

    With ``parent_pid`` (the parent's pid before this process started), a parent that already died is
    caught too: the signal is sent at once. Safe in a ``preexec_fn``: no allocation beyond ctypes'.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), signum)


def install_in_pool_child() -> None:
    """In a Celery pool child (``worker_process_init``): ``SIGTERM`` when the worker's main process dies,
    however it dies (Celery's default is ``SIGKILL``, which would leave a running job to the stale timeout)."""
    die_with_parent(signal.SIGTERM)
    if os.getppid() == 1:  # the main process died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def child_pids(pid: int) -> list[int]:
    """The live direct children of process ``pid`` (read from ``/proc``; empty where there is none)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = entry.read_text()
        except OSError:  # exited meanwhile
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ")" ends it.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.parent.name))
    return found


def forward_to_pool_children(**_: object) -> None:
    """In the worker's main process (``worker_shutting_down``): pass ``SIGTERM`` on to the pool children,
    so a running job drains instead of holding the warm shutdown until it finishes."""
    for pid in child_pids(os.getpid()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


__all__ = [
    "child_pids",
    "die_with_parent",
    "drain_requested",
    "forward_to_pool_children",
    "install_in_pool_child",
    "request_drain",
    "running_job",
]
