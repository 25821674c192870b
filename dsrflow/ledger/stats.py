"""Aggregate counts of the ledger for metrics: statuses, types, store outcomes, times to close.

Read at scrape time by the metrics collector (``dsrflow.observability.metrics``), so the numbers
are the ledger's, whichever process moved a request; only names, statuses and counts leave
here, never a request id or a subject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select

from dsrflow.ledger.db import Ledger
from dsrflow.ledger.models import RequestRow, StoreStateRow


@dataclass(frozen=True)
class LedgerStats:
    """One reading of the ledger's aggregates.

    Attributes:
        requests: Requests per (type, status).
        overdue: Open requests past their due date, per type.
        store_outcomes: Store states per (store, status).
        close_seconds: Per type, the seconds from receipt to close of every ended request.
    """

    requests: dict[tuple[str, str], int] = field(default_factory=dict)
    overdue: dict[str, int] = field(default_factory=dict)
    store_outcomes: dict[tuple[str, str], int] = field(default_factory=dict)
    close_seconds: dict[str, list[float]] = field(default_factory=dict)


def read_stats(ledger: Ledger) -> LedgerStats:
    """Read the aggregates in one transaction (a few grouped queries)."""
    stats = LedgerStats()
    with ledger.session() as s:
        for kind, status, n in s.execute(
            select(RequestRow.type, RequestRow.status, func.count()).group_by(
                RequestRow.type, RequestRow.status
            )
        ):
            stats.requests[(kind, status)] = int(n)
        for kind, n in s.execute(
            select(RequestRow.type, func.count())
            .where(RequestRow.overdue.is_(True), RequestRow.completed_at.is_(None))
            .group_by(RequestRow.type)
        ):
            stats.overdue[kind] = int(n)
        for store, status, n in s.execute(
            select(StoreStateRow.store, StoreStateRow.status, func.count()).group_by(
                StoreStateRow.store, StoreStateRow.status
            )
        ):
            stats.store_outcomes[(store, status)] = int(n)
        # Two timestamps per ended request, not a dialect's date arithmetic: SQLite and
        # PostgreSQL differ there, and a ledger holds thousands of requests, not millions.
        for kind, received, completed in s.execute(
            select(RequestRow.type, RequestRow.received_at, RequestRow.completed_at).where(
                RequestRow.completed_at.is_not(None)
            )
        ):
            if completed is None:  # filtered out above; the type checker cannot know
                continue
            seconds = (_aware(completed) - _aware(received)).total_seconds()
            stats.close_seconds.setdefault(kind, []).append(max(0.0, seconds))
    return stats


def _aware(at: datetime) -> datetime:
    """SQLite gives back naive datetimes (stored as UTC)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
