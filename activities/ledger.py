"""The projection activity: keeps the ledger's view of each request current."""

from __future__ import annotations

import hashlib

import structlog
from temporalio import activity

from dsrflow.domain import ProjectionEvent
from dsrflow.ledger import Ledger
from dsrflow.lifecycle import Notification

log = structlog.get_logger(__name__)


class LedgerActivities:
    """Writes workflow state changes to the ledger database."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @activity.defn(name="project")
    def project(self, event: ProjectionEvent) -> bool:
        """Apply one state snapshot; older snapshots arriving late are ignored (by ``seq``)."""
        return self.ledger.apply(event)

    @activity.defn(name="notify")
    def notify(self, n: Notification) -> bool:
        """Put a reminder/overdue/escalation/expiry in the outbox (idempotent per event)."""
        # One notification per event, however often the activity is retried; hashed so that long
        # store lists or details never exceed the column.
        raw = f"{n.request_id}|{n.kind}|{n.due_at.isoformat()}|{','.join(n.stores)}|{n.detail}"
        key = hashlib.sha256(raw.encode()).hexdigest()
        created = self.ledger.notify(n, key)
        log.info("notification", request_id=n.request_id, kind=n.kind, stores=len(n.stores))
        return created
