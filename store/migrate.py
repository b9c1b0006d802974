"""Run the Alembic migrations from Python (the embedded service upgrades its database on start).

The schema comes only from ``migrations/``; nothing calls ``metadata.create_all`` outside the test that
compares the two.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from store.db import make_engine, normalise_url

#: The repository root, where ``alembic.ini`` and ``migrations/`` live next to this package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic config for ``url`` (rendered with its password: it is handed to env.py, never logged)."""
    if not MIGRATIONS_DIR.is_dir():
        raise FileNotFoundError(f"Alembic migrations not found at {MIGRATIONS_DIR}")
    config = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.is_file() else Config()
    # Absolute, so the caller's working directory does not matter.
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["configure_logger"] = False
    if url is not None:
        config.attributes["url"] = normalise_url(url).render_as_string(hide_password=False)
    return config


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the newest)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | URL, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"`` removes every table)."""
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """The newest revision in ``migrations/``."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(url: str | URL) -> str | None:
    """The revision the database at ``url`` is at (``None`` for an empty database)."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
