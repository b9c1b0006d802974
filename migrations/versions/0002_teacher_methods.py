"""SDFT and SeqKD methods, and the stage that generates their teachers' targets.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_METHODS_BEFORE = "method IN ('radis', 'supervised')"
_METHODS_AFTER = "method IN ('radis', 'supervised', 'sdft', 'seqkd')"
_STAGES_BEFORE = "stage IS NULL OR stage IN ('generating_rationales', 'training', 'evaluating', 'exporting')"
_STAGES_AFTER = (
    "stage IS NULL OR stage IN ('generating_rationales', 'generating_targets', 'training', 'evaluating', 'exporting')"
)


def _replace(method_check: str, stage_check: str) -> None:
    # Batch mode: SQLite (the embedded default) cannot alter a constraint in place; it rebuilds the table.
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint(op.f("ck_jobs_method"), type_="check")
        batch.drop_constraint(op.f("ck_jobs_stage"), type_="check")
        batch.create_check_constraint("method", method_check)
        batch.create_check_constraint("stage", stage_check)


def upgrade() -> None:
    _replace(_METHODS_AFTER, _STAGES_AFTER)


def downgrade() -> None:
    # Jobs of the new methods or in the new stage cannot be expressed before this revision.
    op.execute("DELETE FROM jobs WHERE method IN ('sdft', 'seqkd') OR stage = 'generating_targets'")
    _replace(_METHODS_BEFORE, _STAGES_BEFORE)
