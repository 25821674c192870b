"""batch answers: an erasure batch's per-member receipt and verification, kept out of history

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision: the batch answer table."""
    op.create_table(
        "batch_answers",
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("store", sa.String(length=80), nullable=False),
        sa.Column("batch_id", sa.String(length=80), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.Column("verification", sa.JSON(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "store"),
    )
    op.create_index("ix_batch_answers_batch_id", "batch_answers", ["batch_id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_batch_answers_batch_id", table_name="batch_answers")
    op.drop_table("batch_answers")
