"""Alembic environment: one schema for Postgres and SQLite.

Where the URL comes from, first match wins:
1. ``config.attributes["url"]`` (or an open ``config.attributes["connection"]``), set by :mod:`store.migrate`;
2. ``alembic -x url=...`` on the command line;
3. the service settings (``RADIS_DATABASE_URL``, else the embedded SQLite default).

``render_as_batch`` makes ALTERs work on SQLite (it rebuilds the table), so later revisions stay portable.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.pool import NullPool

from store.db import is_sqlite, make_engine, normalise_url
from store.models import Base
from store.settings import get_settings

config = context.config

# A programmatic upgrade (the service on start) must not replace the application's logging setup.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    """The URL to migrate (see the module docstring for the order)."""
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    return str(url) if url else get_settings().database_url


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``) instead of running it."""
    context.configure(
        url=normalise_url(database_url()),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a live database."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = database_url()
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if is_sqlite(url):
                # A batch rebuild drops and recreates tables; with foreign keys enforced SQLite would
                # cascade or refuse. The pragma only takes effect outside a transaction, hence the commit.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            _configure_and_run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
