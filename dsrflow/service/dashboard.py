"""Monthly request metrics for the console's dashboard (CCPA §7102-style), from the ledger.

Per calendar month (UTC): requests received (by type), completed and denied (by the month they
ended), the median number of days to close them, the share closed on time, and how many were
overdue. Counts only, no personal data: like ``ReadMetrics``, not audited.

Definitions (docs/console.md, Staff pages):

- *closed*: ended ``completed`` or ``denied`` (a substantive answer), counted in the month it
  ended; *days to close*: from receipt to that end, in days (fractional), the median over the
  month's closed requests (None when none closed).
- *on time*: closed at or before its due date (the extended one, if extended); a request
  without a due date counts as on time. The rate is on time / closed (None when none closed).
- *overdue*: requests whose due date fell in the month and that had not ended by then: ended
  later, or still open now and past it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dsrflow.errors import UserError
from dsrflow.service.base import UseCase

if TYPE_CHECKING:
    from dsrflow.service.principal import Principal

CLOSED = ("completed", "denied")
MAX_MONTHS = 60


@dataclass(frozen=True)
class RequestFacts:
    """What the metrics need of one request (no identifiers)."""

    type: str
    status: str
    received_at: datetime
    due_at: datetime | None
    completed_at: datetime | None


@dataclass(frozen=True)
class MonthMetrics:
    """One month's numbers.

    Attributes:
        month: ``YYYY-MM`` (UTC).
        received_by_type: Requests received this month, per request type.
        completed: Requests that ended ``completed`` this month.
        denied: Requests that ended ``denied`` this month.
        median_days_to_close: Median days from receipt to end of this month's closed requests.
        on_time: Closed this month at or before their due date.
        on_time_rate: ``on_time / (completed + denied)``, None when nothing closed.
        overdue: Requests due this month that had not ended by their due date.
    """

    month: str
    received_by_type: dict[str, int] = field(default_factory=dict)
    completed: int = 0
    denied: int = 0
    median_days_to_close: float | None = None
    on_time: int = 0
    on_time_rate: float | None = None
    overdue: int = 0

    @property
    def received(self) -> int:
        """Requests received this month, all types."""
        return sum(self.received_by_type.values())

    @property
    def closed(self) -> int:
        """Completed plus denied."""
        return self.completed + self.denied


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC time (SQLite gives naive UTC back)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def month_of(value: datetime) -> str:
    """The ``YYYY-MM`` of an instant, in UTC."""
    return f"{utc(value):%Y-%m}"


def last_months(now: datetime, count: int) -> list[str]:
    """The ``count`` months ending with ``now``'s, oldest first."""
    now = utc(now)
    year, month = now.year, now.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def monthly(
    facts: Iterable[RequestFacts], months: list[str], *, now: datetime
) -> list[MonthMetrics]:
    """Each of ``months``' metrics over ``facts`` (see the module doc for the definitions).

    Args:
        facts: The requests (any order; those outside ``months`` are ignored month by month).
        months: ``YYYY-MM`` values to report, in the order wanted.
        now: The present (a request still open after its due date is overdue).
    """
    wanted = set(months)
    received: dict[str, dict[str, int]] = {m: {} for m in months}
    ended: dict[str, dict[str, int]] = {m: {"completed": 0, "denied": 0, "on_time": 0}
                                        for m in months}  # fmt: skip
    days: dict[str, list[float]] = {m: [] for m in months}
    overdue = dict.fromkeys(months, 0)
    now = utc(now)
    for f in facts:
        got = month_of(f.received_at)
        if got in wanted:
            received[got][f.type] = received[got].get(f.type, 0) + 1
        due = utc(f.due_at) if f.due_at is not None else None
        end = utc(f.completed_at) if f.completed_at is not None else None
        if end is not None and f.status in CLOSED and month_of(end) in wanted:
            m = month_of(end)
            ended[m][f.status] += 1
            days[m].append((end - utc(f.received_at)).total_seconds() / 86400)
            if due is None or end <= due:
                ended[m]["on_time"] += 1
        if due is not None and month_of(due) in wanted:
            late = end > due if end is not None else now > due
            overdue[month_of(due)] += int(late)
    out = []
    for m in months:
        closed = ended[m]["completed"] + ended[m]["denied"]
        out.append(
            MonthMetrics(
                m, dict(sorted(received[m].items())), ended[m]["completed"], ended[m]["denied"],
                round(statistics.median(days[m]), 1) if days[m] else None,
                ended[m]["on_time"], ended[m]["on_time"] / closed if closed else None,
                overdue[m],
            )
        )  # fmt: skip
    return out


class ReadMonthlyMetrics(UseCase):
    """The dashboard's monthly numbers (``metrics``; counts only, not audited)."""

    def run(
        self, principal: Principal, *, months: int = 12, now: datetime | None = None
    ) -> list[MonthMetrics]:
        """The last ``months`` calendar months (UTC), oldest first.

        Raises:
            NotAllowed: The principal may not read metrics.
            UserError: ``months`` out of 1-60.
        """
        from sqlalchemy import or_, select

        from dsrflow.ledger.models import RequestRow

        self.allow(principal, "metrics")
        if not 1 <= months <= MAX_MONTHS:
            raise UserError(f"months: between 1 and {MAX_MONTHS}")
        now = utc(now or datetime.now(UTC))
        span = last_months(now, months)
        start = datetime.fromisoformat(f"{span[0]}-01").replace(tzinfo=UTC)
        if self.rt.ledger.is_sqlite:  # SQLite keeps naive UTC text: compare like with like
            start = start.replace(tzinfo=None)
        r = RequestRow
        stmt = select(r.type, r.status, r.received_at, r.due_at, r.completed_at).where(
            or_(r.received_at >= start, r.completed_at >= start, r.due_at >= start,
                r.completed_at.is_(None))
        )  # fmt: skip
        with self.rt.ledger.session() as s:
            facts = [RequestFacts(*row) for row in s.execute(stmt)]
        return monthly(facts, span, now=now)
