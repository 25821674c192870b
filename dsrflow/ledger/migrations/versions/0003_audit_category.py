"""audit category: decision, view, download, decode or system on every audit entry

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen here (not imported from dsrflow.service): a migration must keep meaning what it meant.
_DECISIONS = (
    "submit", "verify_identity", "approve", "deny", "extend", "cancel", "hold", "release",
    "retry_store", "skip_store", "exempt_store", "complete_task",
)  # fmt: skip


def upgrade() -> None:
    """Apply this revision: add the column, then classify the entries already written."""
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("category", sa.String(length=20), server_default="system", nullable=False)
        )
    audit = sa.table("audit_log", sa.column("action", sa.String), sa.column("category", sa.String))
    op.execute(audit.update().where(audit.c.action.in_(_DECISIONS)).values(category="decision"))
    op.execute(audit.update().where(audit.c.action == "view").values(category="view"))
    op.execute(audit.update().where(audit.c.action == "download").values(category="download"))
    op.execute(
        audit.update()
        .where(audit.c.action.like("codec\\_%", escape="\\"))
        .values(category="decode")
    )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("category")
