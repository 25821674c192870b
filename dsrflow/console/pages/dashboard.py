"""The dashboard: CCPA §7102-style numbers per month, as tables, inline SVG charts and CSV.

The numbers come from ``ReadMonthlyMetrics`` (counts only). Charts are drawn here as SVG with
presentation attributes (``fill``, ``width``...): the page CSP forbids inline ``style``, and no
script is needed to read a bar chart.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from dsrflow.api.context import declared
from dsrflow.console.pages.common import Csrf, Staff, html_errors, render, whole
from dsrflow.service.dashboard import MAX_MONTHS, MonthMetrics, ReadMonthlyMetrics

router = APIRouter(include_in_schema=False)

Months = Annotated[str, Query(description="How many months, up to this one (1-60).")]
PALETTE = ("#1f5fbf", "#1e7d3a", "#b3261e", "#a15c00", "#6b4fa0")
CHART_H = 160
BAR_W = 12
GAP = 10


@dataclass(frozen=True)
class Bar:
    """One rectangle of a chart (SVG user units)."""

    x: int
    y: int
    width: int
    height: int
    fill: str
    title: str


@dataclass(frozen=True)
class Chart:
    """A grouped bar chart: one group of bars per month."""

    title: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    labels: tuple[tuple[int, str], ...]
    legend: tuple[tuple[str, str], ...]
    top: str


def chart(title: str, months: list[str], series: dict[str, list[float | None]],
          *, unit: str = "", top: float | None = None) -> Chart:  # fmt: skip
    """Bars for each series per month, scaled to the largest value (or ``top``)."""
    peak = top or max((v for vals in series.values() for v in vals if v is not None), default=0)
    scale = (CHART_H - 20) / peak if peak else 0
    group = BAR_W * len(series) + GAP
    bars, labels = [], []
    for i, month in enumerate(months):
        x0 = 30 + i * group
        labels.append((x0, month[2:]))
        for j, (name, vals) in enumerate(series.items()):
            v = vals[i]
            h = round((v or 0) * scale)
            shown = "—" if v is None else f"{v:g}{unit}"
            bars.append(Bar(x0 + j * BAR_W, CHART_H - h, BAR_W - 2, h, PALETTE[j % len(PALETTE)],
                            f"{month} {name}: {shown}"))  # fmt: skip
    legend = tuple((name, PALETTE[j % len(PALETTE)]) for j, name in enumerate(series))
    return Chart(title, 40 + group * len(months), CHART_H + 30, tuple(bars), tuple(labels),
                 legend, f"{peak:g}{unit}")  # fmt: skip


def charts(rows: list[MonthMetrics]) -> list[Chart]:
    """The dashboard's charts: volumes, time to close, on-time rate."""
    months = [r.month for r in rows]
    median = [r.median_days_to_close for r in rows]
    rate = [None if r.on_time_rate is None else round(100 * r.on_time_rate, 1) for r in rows]
    volumes: dict[str, list[float | None]] = {
        "received": [float(r.received) for r in rows],
        "completed": [float(r.completed) for r in rows],
        "denied": [float(r.denied) for r in rows],
        "overdue": [float(r.overdue) for r in rows],
    }
    return [
        chart("Requests per month", months, volumes),
        chart("Median days to close", months, {"median days": median}),
        chart("Closed on time", months, {"on time": rate}, unit="%", top=100),
    ]


@router.get("/console/dashboard", response_class=HTMLResponse, **declared("metrics"))
@html_errors
def dashboard(request: Request, who: Staff, csrf: Csrf, months: Months = "12") -> HTMLResponse:
    """The monthly metrics page."""
    from dsrflow.domain import RequestType

    count = whole(months, "months", low=1, high=MAX_MONTHS)
    rows = ReadMonthlyMetrics(request.app.state.rt).run(who, months=count)
    return render(
        request, "staff/dashboard.html", who, csrf, rows=rows, charts=charts(rows),
        types=[t.value for t in RequestType], months=count,
    )  # fmt: skip


CSV_HEADER = (
    "month", "received", "received_access", "received_export", "received_erasure",
    "received_rectification", "received_restriction", "completed", "denied",
    "median_days_to_close", "on_time", "on_time_rate", "overdue",
)  # fmt: skip


def as_csv(rows: list[MonthMetrics]) -> str:
    """The dashboard's numbers as CSV (one line per month, oldest first)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_HEADER)
    kinds = [h.removeprefix("received_") for h in CSV_HEADER if h.startswith("received_")]
    for r in rows:
        rate = "" if r.on_time_rate is None else f"{r.on_time_rate:.3f}"
        median = "" if r.median_days_to_close is None else f"{r.median_days_to_close:g}"
        w.writerow([r.month, r.received, *(r.received_by_type.get(k, 0) for k in kinds),
                    r.completed, r.denied, median, r.on_time, rate, r.overdue])  # fmt: skip
    return out.getvalue()


@router.get("/console/dashboard.csv", **declared("metrics"))
@html_errors
def dashboard_csv(request: Request, who: Staff, months: Months = "12") -> Response:
    """The same numbers as a CSV attachment."""
    count = whole(months, "months", low=1, high=MAX_MONTHS)
    rows = ReadMonthlyMetrics(request.app.state.rt).run(who, months=count)
    return Response(
        as_csv(rows), media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="dsr-metrics.csv"'},
    )  # fmt: skip
