"""The processes behind ``radis serve`` and ``radis worker``: none outlives the command, however it ends.

- Each child (the Celery worker, the reconciler) gets ``SIGTERM`` from Linux when the command's process
  exits, even by ``SIGKILL`` (:func:`worker.drain.die_with_parent`); the Celery worker then hands its
  running job back to the queue after the current step and exits (:mod:`worker.drain`).
- ``SIGTERM`` to the command raises :class:`SystemExit` (:func:`exit_on_sigterm`), so its ``finally``
  stops the children and waits for them: uvicorn re-raises the signal after its own shutdown, which
  without a handler would end the process before any ``finally`` ran.
- ``radis serve`` holds a lock in the data folder (:func:`hold_worker_lock`), inherited by its children,
  so a second ``radis serve`` on the same folder cannot add a second worker (two jobs on one device).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from worker.drain import die_with_parent

#: Seconds the children get to stop after ``SIGTERM`` (the worker finishes its step and checkpoints)
#: before they are killed.
STOP_GRACE_S = 60.0
#: The lock file of ``radis serve``'s worker, in the data folder.
LOCK_NAME = "serve-worker.lock"


class WorkerLockHeld(Exception):
    """Another ``radis serve`` (or the worker it left finishing a step) holds the data folder's lock."""


def worker_command(concurrency: int = 1, hostname: str | None = None) -> list[str]:
    """The Celery worker command line (one job per child process, the gpu queue); ``hostname`` is Celery's
    node name (``gpu0@%h``), unique per worker process on a host."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker.app",
        "worker",
        "-Q",
        "gpu",
        "-c",
        str(concurrency),
        "--pool",
        "prefork",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        *(["--hostname", hostname] if hostname else []),
    ]


def parse_gpus(text: str) -> list[str]:
    """``"0,1"`` → ``["0", "1"]``: device indices or UUIDs as ``CUDA_VISIBLE_DEVICES`` takes them, each once.
    ``ValueError`` names what is wrong."""
    devices = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not d for d in devices):
        raise ValueError(f"--gpus: a comma-separated list of devices such as 0,1; got {text!r}")
    for device in devices:
        if not all(c.isalnum() or c == "-" for c in device):
            raise ValueError(f"--gpus: {device!r} is not a device index or UUID")
    if len(set(devices)) != len(devices):
        raise ValueError(f"--gpus: a device is listed twice in {text!r} (two workers would share it)")
    return devices


def worker_plan(env: dict[str, str], concurrency: int = 1, gpus: Sequence[str] = ()) -> list[tuple[list[str], dict[str, str]]]:
    """The commands ``radis worker`` starts and each one's environment.

    Without ``gpus``: one Celery worker (``concurrency`` children) and the reconciler. With ``gpus``: one
    Celery worker per device, pinned to it by ``CUDA_VISIBLE_DEVICES`` and running one job at a time
    (so each job sees exactly one device, as ``cuda:0``), and one reconciler for the host.
    """
    if not gpus:
        return [(worker_command(concurrency), env), ([sys.executable, "-m", "worker.reconciler"], env)]
    plan = [(worker_command(1, hostname=f"gpu{device}@%h"), {**env, "CUDA_VISIBLE_DEVICES": device}) for device in gpus]
    return [*plan, ([sys.executable, "-m", "worker.reconciler"], env)]


def start_worker_processes(
    env: dict[str, str], pass_fds: Sequence[int] = (), concurrency: int = 1, gpus: Sequence[str] = ()
) -> list[subprocess.Popen]:
    """The Celery worker(s) and the reconciler (:func:`worker_plan`), each signalled with ``SIGTERM`` when
    this process exits."""
    parent = os.getpid()

    def child_setup() -> None:
        die_with_parent(signal.SIGTERM, parent)

    return [
        subprocess.Popen(command, env=child_env, pass_fds=tuple(pass_fds), preexec_fn=child_setup)
        for command, child_env in worker_plan(env, concurrency, gpus)
    ]


def stop(procs: Sequence[subprocess.Popen], grace: float = STOP_GRACE_S) -> None:
    """``SIGTERM`` to each child still running, then wait ``grace`` seconds at most before killing it."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def exit_code(procs: Sequence[subprocess.Popen]) -> int:
    """0 when every child exited cleanly; else the first failure's code (128 + N for signal N)."""
    for p in procs:
        code = p.returncode
        if code:
            return 128 - code if code < 0 else code
    return 0


def exit_on_sigterm() -> None:
    """Make ``SIGTERM`` raise :class:`SystemExit` (once; later ones are ignored while the children stop)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, handler)


def hold_worker_lock(data_dir: Path) -> int:
    """Lock ``data_dir/serve-worker.lock`` for this process and the children it passes the descriptor to;
    returns the descriptor. The lock lasts until every holder exited. :class:`WorkerLockHeld` if taken."""
    path = data_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise WorkerLockHeld(
            f"another `radis serve` (pid {holder}) runs a worker on {data_dir}, or its worker is still handing its"
            " job back; stop it first (a second worker would share the device)"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def release_worker_lock(fd: int) -> None:
    """Close this process's descriptor (the lock goes once the children closed theirs too)."""
    with contextlib.suppress(OSError):
        os.close(fd)


__all__ = [
    "LOCK_NAME",
    "STOP_GRACE_S",
    "WorkerLockHeld",
    "exit_code",
    "exit_on_sigterm",
    "hold_worker_lock",
    "parse_gpus",
    "release_worker_lock",
    "start_worker_processes",
    "stop",
    "worker_command",
    "worker_plan",
]
