"""Reads for lists and reports: the ledger's projection as plain, frozen values (no ORM rows).

``ShowRequest`` is audited as a view; lists show ids, types and statuses only and are not,
except a search by subject (``--subject``), audited as a view naming the identity kind only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dsrflow.errors import NotFound, UserError
from dsrflow.service import checks
from dsrflow.service.audit import AuditLine, AuditTrail
from dsrflow.service.base import UseCase
from dsrflow.service.categories import Category

if TYPE_CHECKING:
    from dsrflow.domain import StatusView
    from dsrflow.requests_client import RequestClient
    from dsrflow.service.principal import Principal

OVERDUE = "overdue"


def status_filters() -> tuple[str, ...]:
    """The values ``list --status`` accepts (request statuses, dashed, and ``overdue``)."""
    from dsrflow.statuses import RequestStatus

    return tuple(s.value.replace("_", "-") for s in RequestStatus)


@dataclass(frozen=True)
class StoreLine:
    """One store's projected state."""

    store: str
    adapter: str
    status: str
    attempts: int
    matched: int | None
    affected: int | None
    residual: int | None
    error_type: str | None
    error: str | None


@dataclass(frozen=True)
class ActionLine:
    """One entry of a request's history of human and workflow actions."""

    at: datetime
    actor: str
    action: str
    store: str | None
    detail: str


@dataclass(frozen=True)
class RequestSummary:
    """A request as lists show it."""

    id: str
    type: str
    status: str
    received_at: datetime
    due_at: datetime | None
    overdue: bool
    completed_at: datetime | None
    reason: str | None
    stores: tuple[StoreLine, ...]
    artifact_kind: str | None = None
    artifact_sha256: str | None = None
    regulation: str = "gdpr"


@dataclass(frozen=True)
class RequestReport:
    """A request as ``show`` shows it: its state, history and audit trail."""

    request: RequestSummary
    actions: tuple[ActionLine, ...]
    audit: tuple[AuditLine, ...]

    @property
    def dry_run(self) -> bool:
        """Whether the request was a dry run."""
        return any(a.action == "dry_run" for a in self.actions)


@dataclass(frozen=True)
class TaskLine:
    """A manual store's task."""

    request_id: str
    store: str
    instructions: str
    opened_at: datetime
    escalated_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    closed_by: str | None


def summary(row: Any) -> RequestSummary:
    """A ledger request row as a plain value."""
    stores = tuple(
        StoreLine(s.store, s.adapter, s.status, s.attempts, s.matched, s.affected, s.residual,
                  s.error_type, s.error)
        for s in row.stores
    )  # fmt: skip
    return RequestSummary(
        row.id, row.type, row.status, row.received_at, row.due_at, bool(row.overdue),
        row.completed_at, row.reason, stores, row.artifact_kind, row.artifact_sha256,
        row.regulation,
    )  # fmt: skip


class ListRequests(UseCase):
    """List requests from the ledger (never scans Temporal)."""

    def run(
        self,
        principal: Principal,
        status: str | None = None,
        limit: int = 50,
        *,
        request_type: str | None = None,
        regulation: str | None = None,
        due_before: str | None = None,
        overdue: bool | None = None,
        subject: str | None = None,
        case_ref: str | None = None,
    ) -> list[RequestSummary]:
        """Most recent first, filtered by every criterion given.

        Args:
            principal: The caller.
            status: A request status (``needs-attention``...) or ``overdue`` (open and late).
            limit: At most this many (1-10000).
            request_type: access, export, erasure, rectification or restriction.
            regulation: gdpr or ccpa.
            due_before: Due before this day, YYYY-MM-DD (UTC).
            overdue: True: open and late (as ``status=overdue``); False: not flagged overdue.
            subject: ``KIND=VALUE``: requests about this identifier, found through the blind
                index (audited as a view naming the kind only; the value is never written).
            case_ref: Requests submitted with this case reference (exactly, spaces trimmed).

        Raises:
            UserError: An unknown status, type or regulation (naming the allowed ones), a bad
                date or limit, a malformed subject (never echoing its value).
        """
        self.allow(principal, "list")
        if status is not None:  # needs_attention and needs-attention both name the status
            status = checks.one_of(
                status.replace("_", "-"),
                tuple(dict.fromkeys((*status_filters(), OVERDUE))),
                "--status",
            )
        if request_type is not None:
            from dsrflow.statuses import RequestType

            checks.one_of(request_type, tuple(t.value for t in RequestType), "--type")
        if regulation is not None:
            from dsrflow.service.intake import REGULATIONS

            checks.one_of(regulation, REGULATIONS, "--regulation")
        day = checks.day(due_before, "--due-before")
        if not 1 <= limit <= 10_000:
            raise UserError("--limit: between 1 and 10000")
        kind, tokens = self._subject(subject) if subject is not None else (None, None)
        if case_ref is not None:
            case_ref = checks.text(case_ref, "--case-ref", required=True).strip()
        late = status == OVERDUE or overdue is True
        wanted = status.replace("-", "_") if status and status != OVERDUE else None
        rows = self.rt.ledger.list_requests(
            status=wanted,
            # Open and late; ended requests keep their flag in `show`.
            overdue=True if late else overdue,
            open_only=late,
            limit=limit,
            request_type=request_type,
            regulation=regulation,
            due_before=datetime.fromisoformat(day).replace(tzinfo=UTC) if day else None,
            subject_tokens=tokens,
            case_ref=case_ref,
        )
        if kind is not None:
            self.audit(principal, "search", Category.VIEW, None, by="subject", kind=kind)
        return [summary(r) for r in rows]

    def _subject(self, subject: str) -> tuple[str, list[str]]:
        """The kind and blind-index tokens of ``KIND=VALUE``, normalised as at submission.

        Raises:
            UserError: Malformed, an unknown kind, or nothing left after normalising; the
                message names the option and the kind, never the value.
        """
        from dsrflow.domain import Identity
        from dsrflow.identity import DEFAULT_KINDS, valid_kind
        from dsrflow.service.intake import refuse_foreign_digits

        kind, sep, value = subject.partition("=")
        if not valid_kind(kind) or not sep or not value.strip():
            raise UserError("--subject: expected KIND=VALUE (e.g. email=ADDRESS)")
        # The catalog's kinds, as `Submit` uses: a declared kind's match mode and the default
        # country code of phone numbers must give the token the submission wrote.
        kinds = self.rt.catalog.identity_kinds if self.rt.settings.catalog.exists() else None
        if kinds is not None and not kinds.known(kind):
            known = ", ".join(kinds.names())
            raise UserError(f"--subject: unknown identity kind {kind!r} (known: {known})")
        checks.text(value, f"--subject {kind}=...")
        refuse_foreign_digits(kinds or DEFAULT_KINDS, kind, value, f"--subject {kind}=...")
        norm = (kinds or DEFAULT_KINDS).normalize(kind, value)
        if not norm:
            raise UserError(f"--subject {kind}=...: no value left after normalising")
        return kind, self.rt.journal.blind_index([Identity(kind, norm)])


@dataclass(frozen=True)
class Metrics:
    """Counts from the ledger (no personal data): per status, per type, open and overdue."""

    total: int
    by_status: dict[str, int]
    by_type: dict[str, int]
    overdue: int


class ReadMetrics(UseCase):
    """The request counts dashboards and monitoring read (not audited: counts only)."""

    def run(self, principal: Principal) -> Metrics:
        """Count the ledger's requests."""
        self.allow(principal, "metrics")
        by_status, by_type, overdue = self.rt.ledger.request_counts()
        return Metrics(sum(by_status.values()), by_status, by_type, overdue)


class ShowRequest(UseCase):
    """A request's projected state, history and audit trail (an audited view)."""

    def run(
        self, principal: Principal, request_id: str, *, everything: bool = False
    ) -> RequestReport:
        """Read the request and record the view.

        Args:
            principal: The caller.
            request_id: The request.
            everything: Every audit entry, unfolded (``--all``).

        Raises:
            UserError: Bad id, or not in the ledger.
        """
        checks.request_id(request_id)
        self.allow(principal, "view")
        ledger = self.rt.ledger
        row = ledger.get_request(request_id)
        if row is None:
            raise NotFound(f"request {request_id}: not in the ledger")
        self.audit(principal, "view", Category.VIEW, request_id)
        actions = tuple(
            ActionLine(a.at, a.actor, a.action, a.store, a.detail or "")
            for a in ledger.actions(request_id)
        )
        trail = AuditTrail(ledger).lines(request_id, everything=everything)
        return RequestReport(summary(row), actions, tuple(trail))


class ListTasks(UseCase):
    """Manual tasks waiting for a person (or all of them)."""

    def run(self, principal: Principal, *, everything: bool = False) -> list[TaskLine]:
        """Open tasks (all with ``everything``), oldest first."""
        self.allow(principal, "tasks")
        return [
            TaskLine(t.request_id, t.store, t.instructions or "", t.opened_at, t.escalated_at,
                     t.closed_at, t.outcome, t.closed_by)
            for t in self.rt.ledger.tasks(open_only=not everything)
        ]  # fmt: skip


class WatchRequest(UseCase):
    """Follow a request's live state (Temporal queries; reads ids, statuses and counts)."""

    async def open(self, principal: Principal, request_id: str) -> RequestClient:
        """Authorise following ``request_id``; a connected client to poll it with.

        Raises:
            UserError: Bad id, or not allowed.
        """
        checks.request_id(request_id)
        self.allow(principal, "watch")
        return await self.requests()

    async def status(self, principal: Principal, request_id: str) -> StatusView:
        """The request's live status once (a query)."""
        rc = await self.open(principal, request_id)
        return await rc.status(request_id)
