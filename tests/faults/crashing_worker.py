"""A real Celery worker in which one kind of job kills the process that runs it, for the crash-loop test.

``python -m tests.faults.crashing_worker CELERY_ARGS...`` runs ``celery CELERY_ARGS...`` after one change:
a job whose model reference contains :data:`MARK` kills its own process with ``SIGKILL`` as it starts
loading the model, the way the kernel's out-of-memory killer ends a worker that a job made too big. The
job is claimed and beating like any other when its process vanishes; nothing is written about it. Every
other job runs unchanged.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import radis_core.models

#: A job whose ``model`` contains this kills its worker process.
MARK = "kills-its-worker"

_resolve_model = radis_core.models.resolve_model


def resolve_model(reference: str, cache_dir: Path | None = None) -> Any:
    if MARK in reference:
        os.kill(os.getpid(), signal.SIGKILL)
    return _resolve_model(reference, cache_dir)


# The pipeline imports resolve_model from the module when a job loads its model, in the forked child.
radis_core.models.resolve_model = resolve_model

if __name__ == "__main__":
    from celery.bin.celery import main

    sys.argv[0] = "celery"
    sys.exit(main())
