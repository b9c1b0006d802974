"""OpenAI parity (issue 15): deletable fine-tuned models, and jobs that pause and resume.

Revision ID: 0004
Revises: 0003

``jobs.model_deleted_at``: when the job's fine-tuned model was deleted (``DELETE /v1/models/{id}``);
the job stays, its model is gone from every read. ``jobs.pause_requested`` and the ``paused`` status:
a running job asked to pause stops at its next step with a checkpoint and waits, ``paused``, until it
is resumed. Written out in full (no imports from ``store``), like 0001.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_STATUS_BEFORE = "status IN ('validating_files', 'queued', 'running', 'succeeded', 'failed', 'cancelled')"
_STATUS_AFTER = "status IN ('validating_files', 'queued', 'running', 'paused', 'succeeded', 'failed', 'cancelled')"


def _replace_status_check(check: str) -> None:
    # Batch mode: SQLite (the embedded default) cannot alter a constraint in place; it rebuilds the table.
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("ck_jobs_status"), type_="check")
        batch.create_check_constraint("status", check)


def upgrade() -> None:
    op.add_column("jobs", sa.Column("model_deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("jobs", sa.Column("pause_requested", sa.Boolean(), server_default=sa.false(), nullable=False))
    _replace_status_check(_STATUS_AFTER)


def downgrade() -> None:
    # A paused job cannot be expressed before this revision: it goes back to the queue (it resumes from its
    # checkpoint when a worker claims it).
    op.execute("UPDATE jobs SET status = 'queued' WHERE status = 'paused'")
    _replace_status_check(_STATUS_BEFORE)
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("pause_requested")
        batch.drop_column("model_deleted_at")
