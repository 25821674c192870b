"""Ledger tables of the transparency log (on the ledger's ``Base``; created by its migrations).

Append-only: rows are only ever inserted. On SQLite, triggers (created by the ledger's baseline
migration) refuse UPDATE and DELETE; on PostgreSQL grant the worker role INSERT and SELECT only
on these tables (docs/operations.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, LargeBinary, String, Text
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
