"""Ledger tables of the transparency log (on the ledger's ``Base``, so ``create_all`` makes them).

Append-only: rows are only ever inserted. On SQLite, triggers refuse UPDATE and DELETE; on
PostgreSQL grant the worker role INSERT and SELECT only on these tables (docs/operations.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, DateTime, Integer, LargeBinary, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from dsrflow.ledger.models import Base, utcnow


class TlogLeafRow(Base):
    """One log entry: the digest of an evidence envelope, in append order."""

    __tablename__ = "tlog_leaves"

    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    leaf: Mapped[bytes] = mapped_column(LargeBinary(32))
    request_id: Mapped[str] = mapped_column(String(80), index=True)
    appended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TlogHashRow(Base):
    """The hash of a perfect subtree: leaves ``[idx * 2**level, (idx + 1) * 2**level)``.

    Stored as each subtree completes, so any root or proof costs O(log n) lookups.
    """

    __tablename__ = "tlog_hashes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class TlogCheckpointRow(Base):
    """A signed checkpoint (C2SP note) of the log at one size."""

    __tablename__ = "tlog_checkpoints"

    size: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


for _table in ("tlog_leaves", "tlog_hashes", "tlog_checkpoints"):
    for _op in ("UPDATE", "DELETE"):
        event.listen(
            Base.metadata.tables[_table],
            "after_create",
            DDL(
                f"CREATE TRIGGER IF NOT EXISTS {_table}_no_{_op.lower()} BEFORE {_op} ON {_table} "
                f"BEGIN SELECT RAISE(ABORT, '{_table} is append-only'); END"
            ).execute_if(dialect="sqlite"),
        )
