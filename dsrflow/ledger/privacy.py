"""The privacy center's ledger state: hashed verification links, intake attempts, sealed notes.

Nothing here sees a token, an address or an IP in clear: links are kept by the SHA-256 of their
token, attempts by a blind-index key, notes sealed under the request's data key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update

from dsrflow.ledger.models import IntakeAttemptRow, IntakeNoteRow, VerificationLinkRow

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dsrflow.ledger import Ledger

OK, UNKNOWN, EXPIRED, USED = "ok", "unknown", "expired", "used"


def aware(at: datetime) -> datetime:
    """``at`` as UTC-aware (SQLite hands back naive datetimes)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def save_link(ledger: Ledger, request_id: str, token_sha256: str, expires_at: datetime) -> None:
    """Keep a new link's hash."""
    with ledger.session() as s:
        s.add(
            VerificationLinkRow(
                token_sha256=token_sha256, request_id=request_id, expires_at=expires_at
            )
        )


def link(ledger: Ledger, token_sha256: str) -> VerificationLinkRow | None:
    """The link with this hash, if any."""
    with ledger.session() as s:
        return s.get(VerificationLinkRow, token_sha256)


def state(row: VerificationLinkRow | None, now: datetime) -> str:
    """Whether a link may still confirm its request: ok, unknown, expired or used."""
    if row is None:
        return UNKNOWN
    if row.used_at is not None:
        return USED
    return EXPIRED if aware(row.expires_at) <= now else OK


def claim_link(ledger: Ledger, token_sha256: str, now: datetime) -> str:
    """Mark a link used, if it is unused and unexpired (atomically); what it was before.

    Returns:
        ``ok`` when this call claimed it; otherwise why not (unknown, expired, used).
    """
    with ledger.session() as s:
        done = s.execute(
            update(VerificationLinkRow)
            .where(
                VerificationLinkRow.token_sha256 == token_sha256,
                VerificationLinkRow.used_at.is_(None),
                VerificationLinkRow.expires_at > now,
            )
            .values(used_at=now)
        )
        if int(getattr(done, "rowcount", 0) or 0) == 1:
            return OK
        return state(s.get(VerificationLinkRow, token_sha256), now)


def release_link(ledger: Ledger, token_sha256: str) -> None:
    """Undo a claim whose verification did not go through (Temporal did not answer)."""
    with ledger.session() as s:
        s.execute(
            update(VerificationLinkRow)
            .where(VerificationLinkRow.token_sha256 == token_sha256)
            .values(used_at=None)
        )


def links_of(ledger: Ledger, request_id: str) -> list[VerificationLinkRow]:
    """A request's links, oldest first."""
    with ledger.session() as s:
        stmt = select(VerificationLinkRow).where(VerificationLinkRow.request_id == request_id)
        return list(s.scalars(stmt.order_by(VerificationLinkRow.created_at)))


def attempts(ledger: Ledger, key: str, since: datetime) -> int:
    """How many attempts ``key`` made since ``since``."""
    with ledger.session() as s:
        stmt = select(func.count(IntakeAttemptRow.id)).where(
            IntakeAttemptRow.key == key, IntakeAttemptRow.at > since
        )
        return int(s.scalar(stmt) or 0)


def record_attempt(ledger: Ledger, keys: Iterable[str], now: datetime, before: datetime) -> None:
    """Count one attempt under each key; forget every attempt older than ``before``."""
    with ledger.session() as s:
        s.execute(delete(IntakeAttemptRow).where(IntakeAttemptRow.at <= before))
        for key in keys:
            s.add(IntakeAttemptRow(key=key, at=now))


def save_note(ledger: Ledger, request_id: str, key_id: str, sealed: bytes) -> None:
    """Keep a request's sealed note (a retried submission keeps the first)."""
    with ledger.session() as s:
        if s.get(IntakeNoteRow, request_id) is None:
            s.add(IntakeNoteRow(request_id=request_id, key_id=key_id, sealed=sealed))


def note(ledger: Ledger, request_id: str) -> IntakeNoteRow | None:
    """A request's sealed note."""
    with ledger.session() as s:
        return s.get(IntakeNoteRow, request_id)
