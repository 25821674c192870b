"""The dashboard's monthly numbers (received by type, completed, denied, median days to close,
on-time rate, overdue) on known data, through the use case, on the page and in the CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dsrflow.domain import RequestStatus, RequestType
from dsrflow.errors import UserError
from dsrflow.ledger.models import RequestRow
from dsrflow.service.dashboard import ReadMonthlyMetrics, RequestFacts, last_months, monthly
from dsrflow.service.principal import NotAllowed
from tests.unit.console_pages_kit import app_as, checked, put, role, runtime

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
MONTHS = ["2026-01", "2026-02", "2026-03"]


def t(day: str, hour: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


# (id, type, status, received, due, ended)
KNOWN = [
    ("r1", "access", "completed", t("2026-01-05"), t("2026-02-04"), t("2026-01-15")),  # 10 d
    ("r2", "erasure", "completed", t("2026-01-10"), t("2026-02-09"), t("2026-02-09")),  # 30 d, due
    ("r3", "erasure", "denied", t("2026-01-20"), t("2026-02-19"), t("2026-02-25")),  # 36 d, late
    ("r4", "export", "running", t("2026-02-01"), t("2026-03-03"), None),  # open, past due
    ("r5", "access", "running", t("2026-02-10"), t("2026-03-20"), None),  # open, not yet due
    ("r6", "erasure", "completed", t("2025-12-01"), t("2025-12-31"), t("2026-01-02")),  # 32 d, late
    ("r7", "access", "cancelled", t("2026-03-01"), t("2026-03-31"), t("2026-03-02")),  # not closed
    ("r8", "erasure", "completed", t("2026-03-01"), None, t("2026-03-05")),  # 4 d, no due date
]  # fmt: skip


def facts() -> list[RequestFacts]:
    return [RequestFacts(k, s, r, d, e) for _, k, s, r, d, e in KNOWN]


def test_monthly_numbers_on_known_data() -> None:
    jan, feb, mar = monthly(facts(), MONTHS, now=NOW)
    assert (jan.month, jan.received_by_type, jan.received) == (
        "2026-01", {"access": 1, "erasure": 2}, 3)  # fmt: skip
    assert (jan.completed, jan.denied, jan.median_days_to_close) == (2, 0, 21.0)  # (10+32)/2
    assert (jan.on_time, jan.on_time_rate, jan.overdue) == (1, 0.5, 0)  # r6 was due in December
    assert feb.received_by_type == {"access": 1, "export": 1}
    assert (feb.completed, feb.denied, feb.closed, feb.median_days_to_close) == (1, 1, 2, 33.0)
    # Ending on the due date itself is on time; r3's denial came after its due date.
    assert (feb.on_time, feb.on_time_rate, feb.overdue) == (1, 0.5, 1)
    assert mar.received_by_type == {"access": 1, "erasure": 1}  # the cancelled one was received
    assert (mar.completed, mar.denied, mar.median_days_to_close) == (1, 0, 4.0)
    # No due date counts as on time; r4 is open past its due date, r5 is not due yet.
    assert (mar.on_time, mar.on_time_rate, mar.overdue) == (1, 1.0, 1)


def test_median_of_an_odd_count_and_an_empty_month() -> None:
    start = t("2026-01-01")
    rows = [RequestFacts("access", "completed", start, None, t("2026-01-01", 12)),
            RequestFacts("access", "denied", start, None, t("2026-01-03")),
            RequestFacts("access", "completed", start, None, t("2026-01-11"))]  # fmt: skip
    jan, feb = monthly(rows, ["2026-01", "2026-02"], now=NOW)
    assert jan.median_days_to_close == 2.0 and jan.on_time_rate == 1.0
    assert (feb.received, feb.closed, feb.median_days_to_close, feb.on_time_rate) == (
        0, 0, None, None)  # fmt: skip
    assert last_months(datetime(2026, 1, 31, 23, 59, tzinfo=UTC), 3) == [
        "2025-11", "2025-12", "2026-01"]  # fmt: skip


def ledger_with_known(tmp_path: Path):  # type: ignore[no-untyped-def]
    rt = runtime(tmp_path)
    for rid, kind, status, received, due, ended in KNOWN:
        put(rt, rid, kind=RequestType(kind), status=RequestStatus(status))
        with rt.ledger.session() as s:
            row = s.get(RequestRow, rid)
            assert row is not None
            row.received_at, row.due_at, row.completed_at = received, due, ended
    return rt


def test_the_use_case_reads_the_ledger(tmp_path: Path) -> None:
    rt = ledger_with_known(tmp_path)
    got = ReadMonthlyMetrics(rt).run(role("auditor"), months=3, now=NOW)
    assert got == monthly(facts(), MONTHS, now=NOW)
    with pytest.raises(NotAllowed):
        ReadMonthlyMetrics(rt).run(role("engineer"), now=NOW)
    with pytest.raises(UserError, match="months: between 1 and 60"):
        ReadMonthlyMetrics(rt).run(role("auditor"), months=0)
    assert rt.ledger.audit_entries() == []  # counts only


def test_dashboard_page_and_csv_show_the_same_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = ledger_with_known(tmp_path)
    real = ReadMonthlyMetrics.run

    def at_now(self, principal, *, months=12, now=None):  # type: ignore[no-untyped-def]
        return real(self, principal, months=months, now=NOW)

    monkeypatch.setattr(ReadMonthlyMetrics, "run", at_now)
    c = app_as(rt, role("approver"))
    page = c.get("/console/dashboard?months=3")
    assert page.status_code == 200
    checked(page)
    feb = re.search(r'<tr data-month="2026-02">(.*?)</tr>', page.text, re.S)
    assert feb is not None
    cells = dict(re.findall(r'data-field="([a-z_]+)"[^>]*>([^<]*)<', feb.group(1)))
    assert cells == {"received": "2", "completed": "1", "denied": "1", "median": "33.0",
                     "on_time": "50% (1/2)", "overdue": "1"}  # fmt: skip
    assert page.text.count("<svg") >= 3 and "<rect" in page.text
    out = c.get("/console/dashboard.csv?months=3")
    assert out.status_code == 200 and out.headers["content-type"].startswith("text/csv")
    assert "attachment" in out.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(out.text)))
    assert [r["month"] for r in rows] == MONTHS
    assert rows[0] == {
        "month": "2026-01", "received": "3", "received_access": "1", "received_export": "0",
        "received_erasure": "2", "received_rectification": "0", "received_restriction": "0",
        "completed": "2", "denied": "0", "median_days_to_close": "21", "on_time": "1",
        "on_time_rate": "0.500", "overdue": "0",
    }  # fmt: skip
    assert rows[1]["median_days_to_close"] == "33" and rows[1]["overdue"] == "1"
    assert rows[2]["on_time_rate"] == "1.000"
    eng = app_as(rt, role("engineer"))
    assert eng.get("/console/dashboard").status_code == 403
    assert eng.get("/console/dashboard.csv").status_code == 403
    for bad in ("99", "x"):
        r = c.get(f"/console/dashboard?months={bad}")
        assert r.status_code == 400 and "months: a whole number between 1 and 60" in r.text
        checked(r)
