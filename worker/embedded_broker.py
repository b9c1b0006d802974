"""Kombu's SQLAlchemy broker transport with a short poll interval, for the embedded (no server) mode.

A database broker is polled; Kombu waits 1 s between polls, which adds up to a second to every job
start. The interval is normally set with the transport option ``polling_interval``, but Kombu's
SQLAlchemy channel hands every transport option to :func:`sqlalchemy.create_engine`, which refuses
that keyword (seen with Kombu 5.7 and SQLAlchemy 2.1). This subclass carries the interval as the class
default instead; :func:`worker.app.make_celery` selects it for ``sqla+…`` broker URLs. It also creates
the folder of a SQLite broker file on first connection (SQLite creates the file, not its folder), so
the embedded mode starts on a fresh machine without anyone creating folders at import time.

Kombu creates a queue's row with a read-then-insert guarded by a lock of its own process; the API,
the worker and the reconciler are three processes, and when two of them declare the ``gpu`` queue at
the same moment the second insert fails on the unique name — seen killing the embedded worker at
start (``Unrecoverable error: IntegrityError … kombu_queue.name``) while the API stayed up. The
channel below reads the row again after such a failure: the other process created it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kombu.transport.sqlalchemy import Channel as SQLAlchemyChannel
from kombu.transport.sqlalchemy import Transport as SQLAlchemyTransport
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

#: Seconds between polls of the database broker.
POLLING_INTERVAL_S = 0.5


class Channel(SQLAlchemyChannel):
    """Kombu's channel, safe when another process creates the same queue row at the same moment."""

    def _get_or_create(self, queue: str) -> Any:
        try:
            return super()._get_or_create(queue)
        except IntegrityError:
            self.session.rollback()
            return super()._get_or_create(queue)  # the row exists now: this is a read


class Transport(SQLAlchemyTransport):
    """The SQLAlchemy transport, polling every :data:`POLLING_INTERVAL_S` seconds."""

    Channel = Channel
    polling_interval = POLLING_INTERVAL_S

    def establish_connection(self) -> Any:
        """Connect, creating the folder of a SQLite broker file first."""
        assert self.client is not None, "kombu binds the transport to its connection before connecting"
        url = make_url(self.client.hostname)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return super().establish_connection()
