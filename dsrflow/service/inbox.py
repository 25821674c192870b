"""The console's inbox and a request's live progress: reads over ``ListRequests`` and the ledger.

``ReadInbox`` orders what ``ListRequests`` finds the way a privacy team works through it (the
most urgent deadline first), pages it, and adds the counts per state. ``ReadProgress`` is what
the request page polls every few seconds: the projected status and store states (ids, statuses
and counts, like lists), so it is not audited as a view; the page that shows the request is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dsrflow.errors import NotFound, UserError
from dsrflow.service import checks
from dsrflow.service.base import UseCase
from dsrflow.service.reads import ListRequests, ReadMetrics, RequestSummary, summary

if TYPE_CHECKING:
    from dsrflow.service.principal import Principal

SEARCH_LIMIT = 10_000
"""The most requests one inbox view orders and pages through (``ListRequests``'s own cap)."""
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows (every criterion given narrows it; see ``ListRequests.run``)."""

    status: str | None = None
    request_type: str | None = None
    regulation: str | None = None
    overdue: bool = False
    needs_attention: bool = False
    subject: str | None = None
    case_ref: str | None = None


@dataclass(frozen=True)
class InboxPage:
    """One page of the inbox.

    Attributes:
        rows: This page's requests, the nearest deadline first (open before ended).
        total: How many requests the filter found.
        page: This page's number (from 1).
        pages: How many pages there are (at least 1).
        by_status: Requests per status, the whole ledger (not only the filtered ones).
        overdue: Open and overdue requests, the whole ledger.
    """

    rows: tuple[RequestSummary, ...]
    total: int
    page: int
    pages: int
    by_status: dict[str, int]
    overdue: int


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def urgency(r: RequestSummary) -> tuple[int, float, str]:
    """Sort key: open requests by due date (none last), then ended ones, latest end first."""
    if r.completed_at is None:
        due = _aware(r.due_at)
        return 0, due.timestamp() if due is not None else float("inf"), r.id
    ended = _aware(r.completed_at)
    assert ended is not None
    return 1, -ended.timestamp(), r.id


class ReadInbox(UseCase):
    """The inbox: ``ListRequests`` ordered by urgency, paged, with the counts per state."""

    def run(
        self, principal: Principal, f: InboxFilter, *, page: int = 1, per_page: int = 25
    ) -> InboxPage:
        """One page of the filtered requests.

        Raises:
            NotAllowed: The principal may not list requests.
            UserError: A bad filter (from ``ListRequests``, naming it) or page.
        """
        self.allow(principal, "list")
        if page < 1:
            raise UserError("page: 1 or more")
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise UserError(f"per page: between 1 and {MAX_PER_PAGE}")
        status = f.status
        if f.needs_attention:
            if status is not None and status.replace("_", "-") != "needs-attention":
                raise UserError("needs attention: cannot be combined with another status")
            status = "needs-attention"
        found = ListRequests(self.rt, policy=self.policy).run(
            principal, status, SEARCH_LIMIT, request_type=f.request_type,
            regulation=f.regulation, overdue=True if f.overdue else None, subject=f.subject,
            case_ref=f.case_ref,
        )  # fmt: skip
        found.sort(key=urgency)
        pages = max(1, -(-len(found) // per_page))
        page = min(page, pages)
        rows = tuple(found[(page - 1) * per_page : page * per_page])
        counts = ReadMetrics(self.rt, policy=self.policy).run(principal)
        return InboxPage(rows, len(found), page, pages, counts.by_status, counts.overdue)


class ReadProgress(UseCase):
    """A request's projected status and store states, for a page following it (``watch``)."""

    def run(self, principal: Principal, request_id: str) -> RequestSummary:
        """The request as the ledger last projected it (not audited: ids, statuses, counts).

        Raises:
            NotAllowed: The principal may not follow requests.
            NotFound: Not in the ledger.
            UserError: A bad id.
        """
        checks.request_id(request_id)
        self.allow(principal, "watch")
        row = self.rt.ledger.get_request(request_id)
        if row is None:
            raise NotFound(f"request {request_id}: not in the ledger")
        return summary(row)
