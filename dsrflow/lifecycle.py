"""The request lifecycle's rules and messages: deadlines, gate policies, people's actions.

Everything here is pure and deterministic, so the workflow uses it directly (imported through
``imports_passed_through``) and tests check it without Temporal.
"""

from __future__ import annotations

import calendar
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from dsrflow.domain import DsrInput, RequestStatus

DAY = 86400.0


class Regulation(StrEnum):
    """Which law's clock a request runs on."""

    GDPR = "gdpr"  # Art. 12(3): one month, extendable by two further months
    CCPA = "ccpa"  # Cal. Civ. Code 1798.130: 45 days, extendable once by 45 days


# -- deadlines --------------------------------------------------------------------------


def add_months(day: datetime, months: int) -> datetime:
    """Same day-of-month ``months`` later, clamped to the month's last day (31 Jan -> 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def _end_of_day(day: datetime) -> datetime:
    return datetime.combine(day.astimezone(UTC).date(), time(23, 59, 59), tzinfo=UTC)


def due_date(received_at: datetime, regulation: str, extension: int = 0) -> datetime:
    """The end of the last day the controller has to answer.

    GDPR: the corresponding calendar day one month after receipt (the month's last day if there
    is none), plus ``extension`` further months counted from receipt, so a 31 January receipt is
    due 28/29 February, or 30 April with a two-month extension. CCPA: 45 days, plus ``extension``
    days.

    Args:
        received_at: When the request was received (timezone-aware).
        regulation: ``gdpr`` or ``ccpa``.
        extension: Months (GDPR) or days (CCPA) of extension granted.
    """
    received = received_at.astimezone(UTC)
    if regulation == Regulation.CCPA:
        return _end_of_day(received + timedelta(days=45 + extension))
    return _end_of_day(add_months(received, 1 + extension))


def extension_problem(
    regulation: str,
    amount: int,
    already_extended: bool,
    now: datetime,
    original_due: datetime,
    unit: str | None = None,
) -> str | None:
    """Why an extension may not be granted (None if it may).

    One extension only, requested before the original due date: up to two months (GDPR) or 45
    days (CCPA), in the regulation's own unit.
    """
    if already_extended:
        return "the deadline was already extended once"
    if now > original_due:
        return f"the original due date {original_due:%Y-%m-%d} has passed"
    limit, expected = (45, "days") if regulation == Regulation.CCPA else (2, "months")
    if unit is not None and unit != expected:
        return f"{regulation.upper()} extensions are counted in {expected}, not {unit}"
    if not 1 <= amount <= limit:
        return f"an extension is 1 to {limit} {expected} under {regulation.upper()}"
    return None


# -- policies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """Which gates apply to a request type, and how the clock is watched.

    Attributes:
        identity_verification: A person must confirm the requester's identity first.
        approval: A person must approve (or deny, citing a ground) before execution.
        verification_timeout_s: An unverified request expires after this long.
        verification_methods: Accepted identity verification methods.
        reminder_offsets_s: Reminders go out this long before the due date.
        escalation_offset_s: Open manual tasks escalate this long before the due date.
        four_eyes: An erasure's approver may not be the person who verified its identity.
    """

    identity_verification: bool = True
    approval: bool = False
    verification_timeout_s: float = 14 * DAY
    verification_methods: list[str] = field(
        default_factory=lambda: ["email_link", "account_login", "document_check", "in_person"]
    )
    reminder_offsets_s: list[float] = field(default_factory=lambda: [7 * DAY, 2 * DAY])
    escalation_offset_s: float = 5 * DAY
    four_eyes: bool = True


@dataclass(frozen=True)
class PolicyInput:
    """Input of the policy activity."""

    request_id: str
    request_type: str


# -- people's actions (update arguments) ------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """Argument of the ``submit`` update sent with update-with-start.

    ``fingerprint`` lets a retried submit be recognised as the same request, and a different
    request reusing the id be refused.
    """

    fingerprint: str


@dataclass(frozen=True)
class SubmissionAck:
    """Answer of the ``submit`` update."""

    request_id: str
    status: RequestStatus
    received_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class IdentityVerification:
    """A person confirmed the requester's identity (method and who; no personal data)."""

    method: str
    verifier: str
    reference: str | None = None


@dataclass(frozen=True)
class Decision:
    """Approve, hold, release or cancel: who, and why."""

    actor: str
    reason: str = ""


@dataclass(frozen=True)
class Denial:
    """Deny a request; the ground is cited (e.g. Art. 12(5)(b) manifestly unfounded)."""

    actor: str
    ground: str
    note: str = ""


@dataclass(frozen=True)
class ExtensionRequest:
    """Extend the deadline once: ``amount`` months (GDPR) or days (CCPA), with a recorded reason."""

    actor: str
    reason: str
    amount: int = 2
    unit: str = "months"


@dataclass(frozen=True)
class StoreDecision:
    """A person's decision about one stuck store.

    Attributes:
        kind: ``retry`` (after a fix), ``skip`` (with reason), ``exempt`` (with ground), or
            ``complete`` (a manual task: ``outcome`` done or not_found).
        method: How a person disposed of a manual store's data (``complete`` of an erasure
            with outcome ``done``): one of ``dsrflow.evidence.schemas.DISPOSAL_METHODS``.
        certificate_ref: The disposal certificate's or ticket's reference (a short token, no
            spaces: never a name).
        attachment_sha256: ``sha256:<hex>`` of the certificate file, if one is kept.
    """

    store: str
    actor: str
    kind: str
    reason: str = ""
    outcome: str | None = None
    ground: str | None = None
    until: str | None = None
    method: str | None = None
    certificate_ref: str | None = None
    attachment_sha256: str | None = None


@dataclass(frozen=True)
class UpdateAck:
    """Answer of every people's-action update."""

    request_id: str
    status: RequestStatus
    message: str
    due_at: datetime | None = None


@dataclass(frozen=True)
class Notification:
    """A reminder, an overdue flag, a task escalation or an expiry, for the outbox."""

    request_id: str
    kind: str
    due_at: datetime
    stores: list[str] = field(default_factory=list)
    detail: str = ""


def fingerprint(inp: DsrInput) -> str:
    """Digest of what makes a request the same request (type, subject, regulation, case, changes).

    Computed by the client and by the workflow from its input; it travels encrypted (payload codec)
    because it is derived from identifiers.
    """
    body = {
        "type": str(inp.request_type),
        "identities": sorted([i.kind, i.value] for i in inp.identities),
        "regulation": inp.regulation,
        "case_ref": inp.case_ref,
        "changes": sorted([c.field, c.value] for c in inp.changes),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
