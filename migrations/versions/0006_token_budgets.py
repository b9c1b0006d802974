"""Token budgets (issue 13): a job's token budget fixed at creation and the tokens it used so far
(generated for targets and rationales plus trained, all attempts together); a project's default.

Revision ID: 0006
Revises: 0005

Written out in full (no imports from ``store``), like 0001.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("job_token_budget", sa.BigInteger(), nullable=True))
    op.add_column("jobs", sa.Column("token_budget", sa.BigInteger(), nullable=True))
    op.add_column("jobs", sa.Column("tokens_used", sa.BigInteger(), nullable=False, server_default=sa.text("0")))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("tokens_used")
        batch.drop_column("token_budget")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("job_token_budget")
