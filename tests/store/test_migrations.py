"""The Alembic migrations build exactly the schema the models describe, and go down and up again cleanly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from store.db import make_engine
from store.migrate import current_revision, downgrade, head_revision, upgrade
from store.models import Base

TABLES = {"projects", "api_keys", "files", "jobs", "job_events", "checkpoints", "uploads", "upload_parts"}


def _schema_diffs(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    assert current_revision(url) is None
    upgrade(url)
    assert current_revision(url) == head_revision()
    assert _tables(url) == TABLES
    assert _schema_diffs(url) == []

    downgrade(url, "base")
    assert current_revision(url) is None
    assert _tables(url) == set()

    upgrade(url)
    assert _tables(url) == TABLES
    assert _schema_diffs(url) == []


def test_postgres_upgrade_downgrade_upgrade_matches_models(make_pg_database: Callable[..., str]) -> None:
    _round_trip(make_pg_database(migrate=False))


def test_sqlite_upgrade_downgrade_upgrade_matches_models(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'radis.db'}")


def test_comparison_detects_a_schema_drift(make_pg_database: Callable[..., str]) -> None:
    """Guard for the test above: a schema missing a column must produce a diff, not an empty list."""
    url = make_pg_database()
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE jobs DROP COLUMN request_hash")
    finally:
        engine.dispose()
    diffs = _schema_diffs(url)
    assert any(d[0] == "add_column" and d[3].name == "request_hash" for d in diffs), diffs


def test_head_is_the_only_head() -> None:
    from alembic.script import ScriptDirectory

    from store.migrate import alembic_config

    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


@pytest.mark.parametrize("cli_url_source", ["attributes", "x_argument"])
def test_env_takes_the_url_from_attributes_or_x_argument(tmp_path: Path, cli_url_source: str) -> None:
    from alembic import command

    from store.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    config = alembic_config(url if cli_url_source == "attributes" else None)
    if cli_url_source == "x_argument":
        config.cmd_opts = type("Opts", (), {"x": [f"url={url}"]})()
    command.upgrade(config, "head")
    assert current_revision(url) == head_revision()


def test_0003_upgrades_a_database_with_jobs_and_duplicate_step_events(make_pg_database: Callable[..., str]) -> None:
    """Rows written before 0003 (including the duplicate step events an older release wrote after a
    resume) survive the upgrade: usage starts at 0, no budget (the deployment's default applies), and
    old events carry no step, so the new unique index cannot clash with them."""
    url = make_pg_database(migrate=False)
    upgrade(url, "0002")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO projects (id, name, created_at) VALUES ('proj-1', 'p', now())")
            connection.exec_driver_sql(
                "INSERT INTO files (id, project_id, filename, purpose, bytes, sha256, storage_key, status, created_at)"
                " VALUES ('file-1', 'proj-1', 't.jsonl', 'fine-tune', 10, 'x', 'files/00/file-1', 'processed', now())"
            )
            connection.exec_driver_sql(
                "INSERT INTO jobs (id, project_id, model, method, training_file_id, seed, hyperparameters,"
                " method_settings, status, result_files, created_at)"
                " VALUES ('ftjob-1', 'proj-1', 'm', 'radis', 'file-1', 1, '{}', '{}', 'succeeded', '[]', now())"
            )
            for _ in range(2):
                connection.exec_driver_sql(
                    "INSERT INTO job_events (job_id, created_at, level, type, message, data)"
                    " VALUES ('ftjob-1', now(), 'info', 'metrics', 'Step 2/3', '{\"step\": 2}')"
                )
        upgrade(url)
        assert _schema_diffs(url) == []
        with engine.connect() as connection:
            job = connection.exec_driver_sql(
                "SELECT run_seconds, work_bytes, work_cleaned_at, wall_time_budget_s FROM jobs"
            ).one()
            assert tuple(job) == (0.0, 0, None, None)
            assert connection.exec_driver_sql("SELECT count(*) FROM job_events WHERE step IS NULL").scalar() == 2
            assert connection.exec_driver_sql("SELECT job_wall_time_s FROM projects").scalar() is None
    finally:
        engine.dispose()
