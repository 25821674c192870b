"""request cases: a request's case reference, so the console can find it by that reference

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 16:30:00

Requests submitted before this revision have no row: their case reference lives only in their
(encrypted) workflow input.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision: the case reference table."""
    op.create_table(
        "request_cases",
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("case_ref", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("request_cases")
