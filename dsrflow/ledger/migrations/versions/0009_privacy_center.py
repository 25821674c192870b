"""privacy center: verification links (hashed), intake rate-limit attempts, sealed notes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision: three new tables."""
    op.create_table(
        "verification_links",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    with op.batch_alter_table("verification_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verification_links_request_id"), ["request_id"], unique=False
        )
    op.create_table(
        "intake_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("intake_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intake_attempts_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_intake_attempts_at"), ["at"], unique=False)
    op.create_table(
        "intake_notes",
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("key_id", sa.String(length=80), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("intake_notes")
    with op.batch_alter_table("intake_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_attempts_at"))
        batch_op.drop_index(batch_op.f("ix_intake_attempts_key"))
    op.drop_table("intake_attempts")
    with op.batch_alter_table("verification_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_links_request_id"))
    op.drop_table("verification_links")
