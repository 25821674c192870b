"""The message outbox and the sealed subject contacts, as ledger operations.

Rows are written by the projection (``enqueue``, inside its transaction) and moved on by the
sender: ``claim`` leases the due ones (so two workers never send the same row at once),
``settle`` records each outcome. Nothing here sees an address in clear.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from dsrflow.ledger.models import OutboxMessageRow, SubjectContactRow, utcnow
from dsrflow.messages import kinds

if TYPE_CHECKING:
    from dsrflow.ledger import Ledger
    from dsrflow.messages.kinds import Planned

CONTACT_ERASED = "contact erased (request purged)"


def enqueue(s: Session, request_id: str, planned: Iterable[Planned]) -> int:
    """Add the planned messages not in the outbox yet; returns how many were added.

    Idempotent per (request, kind, seq): re-applying a snapshot adds nothing.
    """
    added = 0
    for p in planned:
        found = s.scalars(
            select(OutboxMessageRow.id).where(
                OutboxMessageRow.request_id == request_id,
                OutboxMessageRow.kind == p.kind,
                OutboxMessageRow.seq == p.seq,
            )
        ).first()
        if found is not None:
            continue
        s.add(
            OutboxMessageRow(
                request_id=request_id, kind=p.kind, seq=p.seq, recipient=p.recipient,
                status=kinds.PENDING, attempts=0, next_attempt_at=utcnow(), context=p.context,
            )
        )  # fmt: skip
        added += 1
    if added:
        s.flush()
    return added


def claim(
    ledger: Ledger,
    now: datetime,
    *,
    limit: int,
    lease: timedelta,
    skip: Iterable[int] = (),
) -> list[OutboxMessageRow]:
    """Lease up to ``limit`` due pending messages, oldest first.

    A leased row's next attempt moves ``lease`` ahead, so another sender skips it; if this
    sender dies mid-send the row becomes due again when the lease ends (at-least-once).
    """
    with ledger.session() as s:
        stmt = (
            select(OutboxMessageRow)
            .where(
                OutboxMessageRow.status == kinds.PENDING, OutboxMessageRow.next_attempt_at <= now
            )
            .order_by(OutboxMessageRow.id)
            .limit(limit)
        )
        skipped = list(skip)
        if skipped:  # tried already in this round
            stmt = stmt.where(OutboxMessageRow.id.not_in(skipped))
        if not ledger.is_sqlite:  # SQLite serialises writers through BEGIN IMMEDIATE instead
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(s.scalars(stmt))
        for row in rows:
            row.next_attempt_at = now + lease
        return rows


def settle(
    ledger: Ledger,
    row_id: int,
    *,
    status: str,
    attempts: int,
    channel: str | None,
    error: str | None = None,
    retry_at: datetime | None = None,
    reference: str | None = None,
    escalate: Planned | None = None,
) -> None:
    """Record one attempt's outcome; ``escalate`` adds a staff message in the same transaction."""
    with ledger.session() as s:
        row = s.get(OutboxMessageRow, row_id)
        if row is None:
            return
        if row.status != kinds.PENDING:  # settled meanwhile (purge marked it not sent)
            return
        row.status = status
        row.attempts = attempts
        row.channel = channel
        row.last_error = error[:200] if error else None
        row.reference = reference
        if retry_at is not None:
            row.next_attempt_at = retry_at
        if status == kinds.SENT:
            row.sent_at = utcnow()
        if escalate is not None:
            enqueue(s, row.request_id, [escalate])


def messages(
    ledger: Ledger, request_id: str | None = None, limit: int = 500
) -> list[OutboxMessageRow]:
    """Outbox rows, newest first (one request's, or all)."""
    with ledger.session() as s:
        stmt = select(OutboxMessageRow).order_by(OutboxMessageRow.id.desc()).limit(limit)
        if request_id:
            stmt = stmt.where(OutboxMessageRow.request_id == request_id)
        return list(s.scalars(stmt))


# -- contacts -----------------------------------------------------------------------------


def save_contact(ledger: Ledger, request_id: str, key_id: str, sealed: bytes) -> bool:
    """Keep a request's sealed contact unless it has one; returns whether this call added it."""
    with ledger.session() as s:
        if s.get(SubjectContactRow, request_id) is not None:
            return False
        s.add(SubjectContactRow(request_id=request_id, kind="email", key_id=key_id, sealed=sealed))
        return True


def contact(ledger: Ledger, request_id: str) -> SubjectContactRow | None:
    """A request's sealed contact (None: the subject gave no address, or it was purged)."""
    with ledger.session() as s:
        return s.get(SubjectContactRow, request_id)


def forget_contact(ledger: Ledger, request_id: str) -> int:
    """Delete a request's sealed contact; its pending subject messages become not sent.

    Returns:
        How many pending messages were marked not sent.
    """
    with ledger.session() as s:
        s.execute(delete(SubjectContactRow).where(SubjectContactRow.request_id == request_id))
        done = s.execute(
            update(OutboxMessageRow)
            .where(
                OutboxMessageRow.request_id == request_id,
                OutboxMessageRow.recipient == kinds.SUBJECT,
                OutboxMessageRow.status == kinds.PENDING,
            )
            .values(status=kinds.NOT_SENT, last_error=CONTACT_ERASED)
        )
        return int(getattr(done, "rowcount", 0) or 0)


def drop_contact(ledger: Ledger, request_id: str) -> None:
    """Delete a contact this process just saved for a submission Temporal then refused."""
    with ledger.session() as s:
        s.execute(delete(SubjectContactRow).where(SubjectContactRow.request_id == request_id))


def orphan_contacts(ledger: Ledger, before: datetime) -> list[tuple[str, datetime]]:
    """Contacts kept before ``before`` for requests the ledger never saw (id, kept at)."""
    from dsrflow.ledger.models import RequestRow

    with ledger.session() as s:
        stmt = (
            select(SubjectContactRow.request_id, SubjectContactRow.created_at)
            .where(SubjectContactRow.created_at < before)
            .where(
                ~select(RequestRow.id).where(RequestRow.id == SubjectContactRow.request_id).exists()
            )
        )
        return [(rid, at) for rid, at in s.execute(stmt)]
