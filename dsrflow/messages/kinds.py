"""Which messages a projected state change sends, to whom (pure: no database, no I/O).

Subject messages: ``acknowledgement`` when the request is first projected, ``extension`` when a
person extends the deadline (GDPR Art. 12(3): the subject is told, with the reason),
``denial`` when the request is denied (Art. 12(4): the reasons and the right to complain to a
supervisory authority), ``completion`` when it completes. Staff messages: ``reminder``,
``escalation`` (a manual task or a stuck store near the deadline) and ``overdue``, from the
clock's recorded actions, and ``message_failed`` when a subject's message could not be
delivered. ``verification`` (the e-mail link of a privacy-center request) is not planned here:
the privacy center's intake puts it in the outbox itself (``service/subject_intake.py``), and
``delivery_code`` (the one-time code that downloads an access package) when the subject asks
for one on the status page (``service/package_delivery.py``).
Dry runs and requests refused or ended outside dsrflow send the subject nothing.

Each message is keyed by request, kind and ``seq``: the action's sequence number for messages
caused by an action, 0 for those a request has at most once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dsrflow.domain import HumanAction, ProjectionEvent

SUBJECT = "subject"
STAFF = "staff"

ACKNOWLEDGEMENT = "acknowledgement"
EXTENSION = "extension"
DENIAL = "denial"
COMPLETION = "completion"
REMINDER = "reminder"
ESCALATION = "escalation"
OVERDUE = "overdue"
MESSAGE_FAILED = "message_failed"
VERIFICATION = "verification"
DELIVERY_CODE = "delivery_code"

RECIPIENTS: dict[str, str] = {
    ACKNOWLEDGEMENT: SUBJECT,
    EXTENSION: SUBJECT,
    DENIAL: SUBJECT,
    COMPLETION: SUBJECT,
    REMINDER: STAFF,
    ESCALATION: STAFF,
    OVERDUE: STAFF,
    MESSAGE_FAILED: STAFF,
    VERIFICATION: SUBJECT,
    DELIVERY_CODE: SUBJECT,
}
"""Every kind of message and who receives it (a template exists for each)."""

PENDING, SENT, FAILED, NOT_SENT = "pending", "sent", "failed", "not_sent"
STATUSES = (PENDING, SENT, FAILED, NOT_SENT)

_STAFF_ACTIONS = {
    "reminder": REMINDER,
    "task_escalated": ESCALATION,
    "store_escalated": ESCALATION,
    "overdue": OVERDUE,
}
_NO_SUBJECT = frozenset({"rejected", "ended_outside"})


@dataclass(frozen=True)
class Planned:
    """A message the projection puts in the outbox.

    Attributes:
        kind: One of ``RECIPIENTS``.
        seq: The causing action's sequence number, or 0.
        context: Template values: ids, dates, reasons staff gave; never an address.
    """

    kind: str
    seq: int = 0
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def recipient(self) -> str:
        """``subject`` or ``staff``."""
        return RECIPIENTS[self.kind]


def plan(
    event: ProjectionEvent, *, created: bool, before: str | None, new: list[HumanAction]
) -> list[Planned]:
    """The messages one projected snapshot causes.

    Args:
        event: The snapshot being applied.
        created: Whether this snapshot created the request's ledger row (its first).
        before: The request's status in the ledger before this snapshot (None if created).
        new: The actions this snapshot added to the ledger.
    """
    status = str(event.status)
    base = {
        "request_type": str(event.request_type),
        "regulation": event.regulation,
        "received_at": event.received_at.isoformat(),
        "due_at": event.due_at.isoformat() if event.due_at else "",
    }
    out: list[Planned] = []
    dry = any(a.action == "dry_run" for a in event.actions)
    if not dry and status not in _NO_SUBJECT:
        if created:
            out.append(Planned(ACKNOWLEDGEMENT, 0, base))
        if status == "denied" and before != "denied":
            ground, _, note = event.reason.partition(": ")
            out.append(Planned(DENIAL, 0, {**base, "ground": ground, "note": note}))
        if status == "completed" and before != "completed":
            art = event.artifact
            extra = {"artifact_kind": art.kind, "artifact_sha256": art.sha256} if art else {}
            out.append(Planned(COMPLETION, 0, {**base, **extra}))
        for a in new:
            if a.action == "deadline_extended":
                # The workflow records "+<amount> <unit>: <reason>".
                by, _, reason = a.detail.partition(": ")
                out.append(
                    Planned(EXTENSION, a.seq, {**base, "extended_by": by.lstrip("+"),
                                              "reason": reason})
                )  # fmt: skip
    for a in new:
        kind = _STAFF_ACTIONS.get(a.action)
        if kind is not None:
            detail = {"detail": a.detail, "store": a.store or ""}
            out.append(Planned(kind, a.seq, {**base, **detail}))
    return out
