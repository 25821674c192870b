"""The privacy center's status page: a subject follows one request with the e-mailed link.

Shows the request's state in plain words, its dates and whether identity is verified; never the
subject's data and never another request. The link opens it while it could still confirm the
request, and for the life of the request once it has confirmed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from dsrflow.service.base import UseCase
from dsrflow.service.subject_intake import (
    EXPIRED,
    GONE,
    OK,
    PRIVACY_CENTER,
    REGISTERING,
    TOKEN_FORMAT,
    UNKNOWN,
    token_hash,
)

WORDS = {
    "received": "We have received your request.",
    "awaiting_verification": "Waiting for you to confirm it with the link in our e-mail.",
    "awaiting_approval": "Our privacy team is reviewing it.",
    "on_hold": "Paused by our privacy team; we will write to you if we need anything.",
    "running": "In progress.",
    "needs_attention": "In progress.",
    "overdue": "In progress.",
    "completed": "Complete.",
    "denied": "Closed: we are not acting on it, and have written to you with the reasons.",
    "expired": "Closed: it was not confirmed in time.",
    "cancelled": "Cancelled.",
    "rejected": "Closed.",
}
"""Each status in the words a subject reads (staff's distinctions are internal)."""


@dataclass(frozen=True)
class SubjectView:
    """What the status page shows.

    Attributes:
        state: ``ok``, or why nothing is shown: ``unknown``, ``expired``, ``gone`` (purged),
            ``registering`` (filed, not in the ledger yet).
        request_id: The reference the subject was given.
        request_type: access, export, erasure or restriction.
        words: The state in plain words.
        received_at: When the request was received.
        due_at: When it will be answered by.
        verified_at: When identity was verified (None: not yet).
        complete: Whether it completed (the result is on its way).
    """

    state: str
    request_id: str | None = None
    request_type: str = ""
    words: str = ""
    received_at: datetime | None = None
    due_at: datetime | None = None
    verified_at: datetime | None = None
    complete: bool = False


class SubjectStatus(UseCase):
    """One request's progress, for the subject holding its link."""

    def run(self, token: str) -> SubjectView:
        """The request's view, or why there is none."""
        from dsrflow.ledger import privacy

        self.allow(PRIVACY_CENTER, "view")
        if not TOKEN_FORMAT.fullmatch(token):
            return SubjectView(UNKNOWN)
        row = privacy.link(self.rt.ledger, token_hash(token))
        if row is None:
            return SubjectView(UNKNOWN)
        now = datetime.now(UTC)
        if row.used_at is None and privacy.aware(row.expires_at) <= now:
            return SubjectView(EXPIRED, row.request_id)
        req = self.rt.ledger.get_request(row.request_id)
        if req is None:
            return SubjectView(REGISTERING, row.request_id)
        if req.purged_at is not None:
            return SubjectView(GONE, row.request_id)
        verified = next(
            (a.at for a in self.rt.ledger.actions(req.id) if a.action == "identity_verified"),
            None,
        )
        return SubjectView(
            OK, req.id, req.type, WORDS.get(req.status, "In progress."),
            privacy.aware(req.received_at), privacy.aware(req.due_at) if req.due_at else None,
            privacy.aware(verified) if verified else None, req.status == "completed",
        )  # fmt: skip
