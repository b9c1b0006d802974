"""Storage accounting and compute budgets (issue 13): job folders counted and cleaned, a wall-time budget
per job with a project default, one event row per training step.

Revision ID: 0003
Revises: 0002

Written out in full (no imports from ``store``), like 0001. Adding columns and an index needs no table
rebuild on SQLite. Existing event rows get no ``step`` (so the unique index cannot clash with the
duplicates an older release wrote after a resume).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("job_wall_time_s", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("wall_time_budget_s", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("run_seconds", sa.Float(), server_default=sa.text("0"), nullable=False))
    op.add_column("jobs", sa.Column("work_bytes", sa.BigInteger(), server_default=sa.text("0"), nullable=False))
    op.add_column("jobs", sa.Column("work_cleaned_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("job_events", sa.Column("step", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_job_events_job_id_step"), "job_events", ["job_id", "step"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_job_events_job_id_step"), table_name="job_events")
    # Batch mode: older SQLite cannot drop a column in place; it rebuilds the table.
    with op.batch_alter_table("job_events") as batch:
        batch.drop_column("step")
    with op.batch_alter_table("jobs") as batch:
        for column in ("work_cleaned_at", "work_bytes", "run_seconds", "wall_time_budget_s"):
            batch.drop_column(column)
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("job_wall_time_s")
