"""audit chain: every audit entry commits to the previous one; anchors in the transparency log

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import rfc8785
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Frozen here (not imported from dsrflow.ledger.audit_chain): a migration must keep meaning what
# it meant. The chain format is versioned by this domain string.
_DOMAIN = b"dsrflow.audit-entry/v1\n"
_GENESIS = bytes(32)


def _time(at: datetime) -> str:
    aware = at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.isoformat(timespec="microseconds")


def _hash(prev: bytes, seq: int, row: sa.Row[Any]) -> bytes:
    body = {
        "seq": seq,
        "at": _time(row.at),
        "actor": row.actor,
        "action": row.action,
        "category": row.category,
        "request_id": row.request_id,
        "detail": row.detail if row.detail is not None else {},
    }
    return hashlib.sha256(_DOMAIN + prev + rfc8785.dumps(body)).digest()


def upgrade() -> None:
    """Apply this revision: add the chain columns, chain the entries already written."""
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column("entry_hash", sa.LargeBinary(length=32), nullable=True))
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit_anchors",
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("log_index"),
    )
    with op.batch_alter_table("audit_anchors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_anchors_seq"), ["seq"], unique=False)

    bind = op.get_bind()
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer), sa.column("at", sa.DateTime(timezone=True)),
        sa.column("actor", sa.String), sa.column("action", sa.String),
        sa.column("category", sa.String), sa.column("request_id", sa.String),
        sa.column("detail", sa.JSON), sa.column("seq", sa.Integer),
        sa.column("prev_hash", sa.LargeBinary), sa.column("entry_hash", sa.LargeBinary),
    )  # fmt: skip
    prev, seq = _GENESIS, 0
    for row in bind.execute(sa.select(audit).order_by(audit.c.id)).all():
        seq += 1
        digest = _hash(prev, seq, row)
        bind.execute(
            audit.update().where(audit.c.id == row.id)
            .values(seq=seq, prev_hash=prev, entry_hash=digest)
        )  # fmt: skip
        prev = digest
    head = sa.table(
        "audit_head", sa.column("id", sa.Integer), sa.column("seq", sa.Integer),
        sa.column("hash", sa.LargeBinary),
    )  # fmt: skip
    bind.execute(head.insert().values(id=1, seq=seq, hash=prev))

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.LargeBinary(32), nullable=False)
        batch_op.alter_column("entry_hash", existing_type=sa.LargeBinary(32), nullable=False)
        batch_op.create_unique_constraint("uq_audit_log_seq", ["seq"])

    # Entries are never updated or deleted: refuse it in the database too. (Anyone who can drop
    # a trigger can still edit a row; the chain is what makes that visible.)
    if bind.dialect.name == "sqlite":
        for table in ("audit_log", "audit_anchors"):
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
    elif bind.dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION dsrflow_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        for table in ("audit_log", "audit_anchors"):
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION dsrflow_append_only()"
            )


def downgrade() -> None:
    """Revert this revision."""
    bind = op.get_bind()
    for table in ("audit_log", "audit_anchors"):
        if bind.dialect.name == "sqlite":
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        elif bind.dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS dsrflow_append_only()")
    with op.batch_alter_table("audit_anchors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_anchors_seq"))
    op.drop_table("audit_anchors")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_log_seq", type_="unique")
        batch_op.drop_column("entry_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
