"""Imported first by :mod:`worker.tasks` (worker processes only): puts ``PROMETHEUS_MULTIPROC_DIR`` in the
environment before prometheus_client is imported, so the worker's metrics are shared between its main
process and its pool children (see :mod:`worker.metrics`). An explicit ``PROMETHEUS_MULTIPROC_DIR`` is
kept; the default is ``<data_dir>/worker-metrics``. Nothing happens once prometheus_client is loaded
(its mode is fixed at import) or when ``worker_metrics_port`` is 0.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from store.settings import get_settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def in_celery_worker(argv: list[str]) -> bool:
    """True in a ``celery … worker`` process (``celery`` or ``python -m celery``), where the pool forks."""
    program = Path(argv[0]) if argv else Path()
    return "celery" in (program.name, program.parent.name) and "worker" in argv[1:]


def use_multiprocess_dir() -> Path | None:
    """Set (and create) the samples folder; returns it, or None when metrics stay in-process (any process
    but a Celery worker: a test importing the task module, the API sending a job)."""
    if not in_celery_worker(sys.argv):
        return None
    if "prometheus_client" in sys.modules:
        return Path(os.environ[MULTIPROC_ENV]) if os.environ.get(MULTIPROC_ENV) else None
    settings = get_settings()
    if settings.worker_metrics_port == 0 and not os.environ.get(MULTIPROC_ENV):
        return None
    folder = Path(os.environ.get(MULTIPROC_ENV) or settings.data_dir / "worker-metrics")
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder


use_multiprocess_dir()
