"""The audit log as a hash chain: every entry commits to the one before it.

Each entry's hash covers its sequence number, its content and the previous entry's hash, so an
entry edited, deleted, inserted or moved in the database breaks the chain at that point. The head
(last sequence number and hash) is kept in a one-row table that every append locks, which
serialises writers on PostgreSQL (SQLite serialises them already: the ledger begins its
transactions IMMEDIATE). A truncated tail leaves a consistent shorter chain; that is what the
anchors in the transparency log are for (``dsrflow.service.auditlog``).

All writers of audit entries go through ``append`` here or, on the plain-SQL read path,
``dsrflow.ledger.sqlread``; both build the entry with ``dsrflow.ledger.chain.next_entry``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dsrflow.ledger.chain import GENESIS, canonical_time, entry_hash, next_entry
from dsrflow.ledger.models import AuditHeadRow, AuditRow

__all__ = ["GENESIS", "ChainState", "append", "canonical_time", "entry_hash", "row_hash", "walk"]


def row_hash(row: AuditRow, prev: bytes) -> bytes:
    """The hash ``row`` should carry if its predecessor's hash is ``prev``."""
    return entry_hash(
        prev, row.seq, at=row.at, actor=row.actor, action=row.action,
        category=row.category, request_id=row.request_id, detail=row.detail,
    )  # fmt: skip


def _head(s: Session) -> AuditHeadRow:
    """The head row, locked for this transaction (created on first use)."""
    head = s.scalars(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()).first()
    if head is None:
        head = AuditHeadRow(id=1, seq=0, hash=GENESIS)
        s.add(head)
        s.flush()
    return head


def append(
    s: Session,
    *,
    actor: str,
    action: str,
    category: str,
    request_id: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditRow:
    """Append one entry to the chain in the caller's transaction.

    Args:
        s: The session whose transaction the entry commits with.
        actor: Who (already fitted to the column).
        action: What.
        category: decision, view, download, decode or system.
        request_id: The request, if any.
        detail: Counts, names and ids; never personal data.
        at: When (now if not given).

    Returns:
        The new row (flushed).
    """
    head = _head(s)
    e = next_entry(
        head.seq, head.hash, actor=actor, action=action, category=category,
        request_id=request_id, detail=detail, at=at,
    )  # fmt: skip
    row = AuditRow(
        seq=e.seq, at=e.at, actor=e.actor, action=e.action, category=e.category,
        request_id=e.request_id, detail=e.detail, prev_hash=e.prev_hash, entry_hash=e.entry_hash,
    )  # fmt: skip
    s.add(row)
    head.seq, head.hash = e.seq, e.entry_hash
    s.flush()
    return row


@dataclass(frozen=True)
class ChainState:
    """What walking the chain found.

    Attributes:
        entries: How many entries were checked.
        head_seq: The last entry's sequence number (0: empty log).
        head_hash: The last entry's hash.
        problem: The first break, as one line naming the entry; None if the chain holds.
        hashes: Sequence number -> hash of the entries asked for (the anchored ones).
    """

    entries: int
    head_seq: int
    head_hash: bytes
    problem: str | None
    hashes: dict[int, bytes]


def walk(s: Session, keep: frozenset[int] = frozenset(), batch: int = 1000) -> ChainState:
    """Check every link and hash from the first entry to the head row.

    Args:
        s: A session on the ledger.
        keep: Sequence numbers whose hashes to return (the anchored entries).
        batch: Rows read per query.
    """
    prev, expected, count = GENESIS, 1, 0
    hashes: dict[int, bytes] = {}
    problem: str | None = None
    for row in _rows(s, batch):
        count += 1
        if row.seq != expected:
            problem = (
                f"audit entry {expected}: missing (the next entry is {row.seq})"
                if row.seq > expected
                else f"audit entry {row.seq}: out of order after entry {expected - 1}"
            )
            break
        if bytes(row.prev_hash) != prev:
            problem = (
                f"audit entry {row.seq}: does not link to entry {row.seq - 1} (moved or inserted)"
            )
            break
        digest = row_hash(row, prev)
        if digest != bytes(row.entry_hash):
            problem = f"audit entry {row.seq}: content does not match its hash (edited)"
            break
        if row.seq in keep:
            hashes[row.seq] = digest
        prev, expected = digest, expected + 1
    last = expected - 1
    if problem is None:
        head = s.get(AuditHeadRow, 1)
        head_seq, head_hash = (head.seq, bytes(head.hash)) if head else (0, GENESIS)
        if (head_seq, head_hash) != (last, prev):
            problem = (
                f"audit log: the head says entry {head_seq} but the chain ends at entry {last} "
                "(entries deleted from the end, or the head rewritten)"
            )
    return ChainState(count, last, prev, problem, hashes)


def _rows(s: Session, batch: int) -> Iterator[AuditRow]:
    after = -1
    while True:
        stmt = select(AuditRow).where(AuditRow.seq > after).order_by(AuditRow.seq).limit(batch)
        rows = list(s.scalars(stmt))
        if not rows:
            return
        yield from rows
        after = rows[-1].seq
