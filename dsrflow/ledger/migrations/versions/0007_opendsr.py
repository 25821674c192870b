"""opendsr inbound: the controllers allowed to send requests, and which sent which request

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision: two tables, neither holding personal data."""
    op.create_table(
        "opendsr_controllers",
        sa.Column("domain", sa.String(length=100), nullable=False),
        sa.Column("token_id", sa.String(length=24), nullable=False),
        sa.Column("callback_urls", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("domain"),
    )
    op.create_table(
        "opendsr_requests",
        sa.Column("subject_request_id", sa.String(length=80), nullable=False),
        sa.Column("controller", sa.String(length=100), nullable=False),
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("request_type", sa.String(length=20), nullable=False),
        sa.Column("callback_urls", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("legacy", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
        sa.UniqueConstraint("controller", "subject_request_id", name="uq_opendsr_request"),
    )
    op.create_index("ix_opendsr_requests_controller", "opendsr_requests", ["controller"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_opendsr_requests_controller", table_name="opendsr_requests")
    op.drop_table("opendsr_requests")
    op.drop_table("opendsr_controllers")
