"""How ``request list`` and ``request show`` print what their use cases return.

Shared by the Typer commands (``cli/requests.py``) and the fast start (``cli/fast.py``), so both
print byte for byte the same; it imports Rich's table and nothing of Typer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from dsrflow.cli.output import out

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dsrflow.service.reads import RequestReport, RequestSummary


def day(value: object) -> str:
    """A date as YYYY-MM-DD ('' for none)."""
    return f"{value:%Y-%m-%d}" if value else ""


def render_list(rows: Iterable[RequestSummary]) -> None:
    """Print requests as a table; every string from the ledger is printed as data."""
    table = Table()
    for col in ("request", "type", "status", "received", "due", "stores"):
        table.add_column(col)
    for r in rows:
        due = day(r.due_at) + (" OVERDUE" if r.overdue and r.due_at else "")
        table.add_row(
            escape(r.id), escape(r.type), escape(r.status), f"{r.received_at:%Y-%m-%d %H:%M}",
            due, str(len(r.stores)),
        )  # fmt: skip
    out.print(table)


def render_report(report: RequestReport) -> None:
    """Print a request report; every string from the ledger is printed as data."""
    row = report.request
    dry = " DRY RUN" if report.dry_run else ""
    due = f"due {row.due_at:%Y-%m-%d}" if row.due_at else ""
    out.print(
        f"[bold]{escape(row.id)}[/] {escape(row.type)}{dry} {escape(row.status)}"
        f"{' OVERDUE' if row.overdue else ''} received {row.received_at:%Y-%m-%d %H:%M}Z {due}"
        + (f" - {escape(row.reason)}" if row.reason else ""),
        soft_wrap=True,
    )
    table = Table()
    for col in ("store", "adapter", "status", "attempts", "matched", "affected", "residual",
                "error"):  # fmt: skip
        table.add_column(col)
    for s in row.stores:
        table.add_row(
            escape(s.store), escape(s.adapter), escape(s.status), str(s.attempts), str(s.matched),
            str(s.affected), str(s.residual),
            escape(f"{s.error_type}: {s.error}") if s.error_type else "",
        )  # fmt: skip
    out.print(table)
    warnings = [a for a in report.actions if a.action == "store_warning"]
    if warnings:
        out.print("warnings:")
        for a in warnings:
            out.print(f"  {a.store}: {a.detail}", soft_wrap=True, markup=False)
    if row.artifact_kind:
        out.print(f"result: {row.artifact_kind} sha256:{row.artifact_sha256}", markup=False)
    out.print("history:")
    for a in report.actions:
        where = f" [{a.store}]" if a.store else ""
        line = f"  {a.at:%Y-%m-%d %H:%M:%S} {a.actor} {a.action}{where} {a.detail}"
        out.print(line, soft_wrap=True, markup=False)
    out.print("audit:")
    for e in report.audit:
        times = ""
        if e.count > 1:
            times = f" x{e.count} (last {e.last_at:%Y-%m-%d %H:%M:%S})" if e.last_at else ""
        line = f"  {e.at:%Y-%m-%d %H:%M:%S} {e.actor} {e.action} ({e.category}){times}"
        out.print(line, soft_wrap=True, markup=False)
