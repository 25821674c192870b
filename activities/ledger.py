"""The projection activity: keeps the ledger's view of each request current."""

from __future__ import annotations

from temporalio import activity

from dsrflow.domain import ProjectionEvent
from dsrflow.ledger import Ledger


class LedgerActivities:
    """Writes workflow state changes to the ledger database."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @activity.defn(name="project")
    def project(self, event: ProjectionEvent) -> bool:
        """Apply one state snapshot; older snapshots arriving late are ignored (by ``seq``)."""
        return self.ledger.apply(event, event.seq)
