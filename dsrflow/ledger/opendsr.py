"""OpenDSR inbound in the ledger: the status a controller sees, and the callbacks a change plans.

``plan_callbacks`` runs inside the projection's transaction: when a request a controller sent
moves to another OpenDSR status, one outbox row per callback URL is added (recipient
``controller``), so the message sender delivers it, signed, with its retries and backoff.
Statuses only move forward, so ``(request, kind, seq)`` with ``seq`` the status's rank (and the
URL's index) makes each callback unique: a snapshot applied again plans nothing new.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dsrflow.messages.kinds import Planned

CONTROLLER = "controller"
CALLBACK = "opendsr_status"
STATUSES = ("pending", "in_progress", "completed", "cancelled")
_MAP = {
    "received": "pending",
    "awaiting_verification": "pending",
    "awaiting_approval": "pending",
    "on_hold": "pending",
    "running": "in_progress",
    "needs_attention": "in_progress",
    "overdue": "in_progress",
    "completed": "completed",
}
"""dsrflow status -> OpenDSR status; every other (denied, expired, cancelled, rejected, ended
outside dsrflow) ends the request without completing it: ``cancelled``."""
_URLS = 100  # seq = rank * _URLS + URL index


def opendsr_status(status: str | None) -> str:
    """The OpenDSR status of a dsrflow request status (None: not projected yet, pending)."""
    if status is None:
        return "pending"
    return _MAP.get(status, "cancelled")


class ControllerCallback(Planned):
    """A status callback to a controller (not a templated message)."""

    @property
    def recipient(self) -> str:
        """Always the controller."""
        return CONTROLLER


def plan_callbacks(s: Session, request_id: str, before: str | None, after: str) -> list[Planned]:
    """The callbacks a status change of ``request_id`` causes (none if no controller sent it)."""
    from dsrflow.ledger.models import OpenDsrRequestRow

    old, new = opendsr_status(before), opendsr_status(after)
    if old == new:
        return []
    row = s.get(OpenDsrRequestRow, request_id)
    if row is None:
        return []
    context: dict[str, Any] = {
        "controller": row.controller,
        "subject_request_id": row.subject_request_id,
        "request_status": new,
        "expected_completion_time": row.expected_at.isoformat(),
        "legacy": row.legacy,
    }
    rank = STATUSES.index(new)
    return [
        ControllerCallback(CALLBACK, rank * _URLS + i, {**context, "url": url})
        for i, url in enumerate(row.callback_urls[:_URLS])
    ]
