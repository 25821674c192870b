"""The request types and statuses, as plain enums (re-exported by ``dsrflow.domain``).

They live apart from the domain's Temporal types so that reading the ledger (``request list``,
``request show``) can check a filter without importing the workflow's types.
"""

from __future__ import annotations

from enum import StrEnum


class RequestType(StrEnum):
    """What the data subject asked for (GDPR article in brackets)."""

    ACCESS = "access"  # Art. 15
    EXPORT = "export"  # Art. 20
    ERASURE = "erasure"  # Art. 17
    RECTIFICATION = "rectification"  # Art. 16
    RESTRICTION = "restriction"  # Art. 18


class RequestStatus(StrEnum):
    """Lifecycle state of a whole request (also the ``DsrStatus`` search attribute)."""

    RECEIVED = "received"
    AWAITING_VERIFICATION = "awaiting_verification"
    AWAITING_APPROVAL = "awaiting_approval"
    ON_HOLD = "on_hold"
    RUNNING = "running"
    NEEDS_ATTENTION = "needs_attention"
    OVERDUE = "overdue"
    COMPLETED = "completed"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    """Started from outside dsrflow (no caller assertion): refused at once, nothing acted on."""
    ENDED_OUTSIDE = "ended_outside"
    """Its workflow was terminated or timed out in Temporal, outside dsrflow (the reconciler)."""

    @property
    def terminal(self) -> bool:
        """Whether the request has ended."""
        return self in _TERMINAL_REQUEST


_TERMINAL_REQUEST = frozenset(
    {
        RequestStatus.COMPLETED,
        RequestStatus.DENIED,
        RequestStatus.EXPIRED,
        RequestStatus.CANCELLED,
        RequestStatus.REJECTED,
        RequestStatus.ENDED_OUTSIDE,
    }
)
