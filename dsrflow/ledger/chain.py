"""One audit entry of the hash chain, computed without a database library.

Both writers of the audit log use ``next_entry``: the SQLAlchemy writer
(``dsrflow.ledger.audit_chain.append``) and the plain-SQL writer of the fast read path
(``dsrflow.ledger.sqlread``). The hash, the stored time and the stored detail are therefore
computed in one place; each writer only puts the entry's fields into its table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785

GENESIS = bytes(32)
"""The ``prev_hash`` of the first entry."""

_DOMAIN = b"dsrflow.audit-entry/v1\n"


def canonical_time(at: datetime) -> str:
    """``at`` as hashed: UTC, microseconds (SQLite hands back naive datetimes, PostgreSQL aware)."""
    aware = at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.isoformat(timespec="microseconds")


def entry_hash(
    prev: bytes,
    seq: int,
    *,
    at: datetime,
    actor: str,
    action: str,
    category: str,
    request_id: str | None,
    detail: Any,
) -> bytes:
    """SHA-256 over the previous hash and the entry's canonical (RFC 8785) JSON."""
    body = {
        "seq": seq,
        "at": canonical_time(at),
        "actor": actor,
        "action": action,
        "category": category,
        "request_id": request_id,
        "detail": detail if detail is not None else {},
    }
    return hashlib.sha256(_DOMAIN + prev + rfc8785.dumps(body)).digest()


@dataclass(frozen=True)
class ChainEntry:
    """An audit entry ready to be stored: exactly the values that were hashed.

    Attributes:
        seq: Its sequence number (the head's plus one).
        at: When, aware UTC with microseconds.
        actor: Who.
        action: What.
        category: decision, view, download, decode or system.
        request_id: The request, if any.
        detail: Counts, names and ids (a new dict; never personal data).
        prev_hash: The previous entry's hash (``GENESIS`` for the first).
        entry_hash: This entry's hash.
    """

    seq: int
    at: datetime
    actor: str
    action: str
    category: str
    request_id: str | None
    detail: dict[str, Any]
    prev_hash: bytes
    entry_hash: bytes


def next_entry(
    head_seq: int,
    head_hash: bytes,
    *,
    actor: str,
    action: str,
    category: str,
    request_id: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> ChainEntry:
    """The entry that follows the head ``(head_seq, head_hash)``.

    Args:
        head_seq: The chain head's sequence number (0: empty chain).
        head_hash: The chain head's hash (``GENESIS``: empty chain).
        actor: Who (already fitted to the column).
        action: What.
        category: decision, view, download, decode or system.
        request_id: The request, if any.
        detail: Counts, names and ids; never personal data.
        at: When (now if not given).
    """
    # Store exactly what was hashed: microsecond UTC, a plain dict of the detail.
    when = datetime.fromisoformat(canonical_time(at or datetime.now(UTC)))
    body = dict(detail or {})
    seq = head_seq + 1
    digest = entry_hash(
        head_hash, seq, at=when, actor=actor, action=action, category=category,
        request_id=request_id, detail=body,
    )  # fmt: skip
    return ChainEntry(seq, when, actor, action, category, request_id, body, head_hash, digest)
