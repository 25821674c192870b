"""receipt journal: durable store receipts and the subject blind index

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "receipt_journal",
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("store", sa.String(length=80), nullable=False),
        sa.Column("operation", sa.String(length=20), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("affected", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("request_id", "store", "operation"),
    )
    op.create_table(
        "receipt_journal_subjects",
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("store", sa.String(length=80), nullable=False),
        sa.Column("operation", sa.String(length=20), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "store", "operation", "token"),
    )
    with op.batch_alter_table("receipt_journal_subjects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_receipt_journal_subjects_token"), ["token"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("receipt_journal_subjects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipt_journal_subjects_token"))
    op.drop_table("receipt_journal_subjects")
    op.drop_table("receipt_journal")
