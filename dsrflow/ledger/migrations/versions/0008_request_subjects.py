"""request subjects: the blind index that finds a subject's requests without the identifier

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 13:00:00

Requests submitted before this revision are not indexed: the ledger never kept their
identifiers, so there is nothing to compute their tokens from.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision: the index table."""
    op.create_table(
        "request_subjects",
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "token"),
    )
    with op.batch_alter_table("request_subjects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_request_subjects_token"), ["token"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("request_subjects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_subjects_token"))
    op.drop_table("request_subjects")
