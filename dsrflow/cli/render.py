"""How ``request list`` and ``request show`` print what their use cases return.

Shared by the Typer commands (``cli/requests.py``) and the fast start (``cli/fast.py``), so both
print the same. A view is first built as blocks (lines, and tables of plain strings), then
printed: through Rich, or, when the output is a pipe and every string is plain ASCII that fits,
by ``cli/plain.py``, which writes what Rich would write without paying for importing Rich
(``tests/unit/test_cli_plain.py`` holds the two to the same bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dsrflow.service.reads import RequestReport, RequestSummary


@dataclass(frozen=True)
class Line:
    """One line of text, printed as data (never as markup).

    Attributes:
        text: The line as shown.
        soft_wrap: Printed as one line however long (Rich's ``soft_wrap``).
        bold: How many leading characters a terminal shows in bold.
    """

    text: str
    soft_wrap: bool = True
    bold: int = 0


@dataclass(frozen=True)
class Grid:
    """A table: column headers and rows of plain strings (printed as data, never as markup)."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Line | Grid


def day(value: object) -> str:
    """A date as YYYY-MM-DD ('' for none)."""
    return f"{value:%Y-%m-%d}" if value else ""


def list_view(rows: Iterable[RequestSummary]) -> list[Block]:
    """Requests as a table."""
    return [
        Grid(
            ("request", "type", "status", "received", "due", "stores"),
            tuple(
                (r.id, r.type, r.status, f"{r.received_at:%Y-%m-%d %H:%M}",
                 day(r.due_at) + (" OVERDUE" if r.overdue and r.due_at else ""),
                 str(len(r.stores)))
                for r in rows
            ),
        )
    ]  # fmt: skip


def report_view(report: RequestReport) -> list[Block]:
    """A request's state, stores, warnings, result, history and audit trail."""
    row = report.request
    dry = " DRY RUN" if report.dry_run else ""
    due = f"due {row.due_at:%Y-%m-%d}" if row.due_at else ""
    rest = (
        f" {row.type}{dry} {row.status}{' OVERDUE' if row.overdue else ''} received "
        f"{row.received_at:%Y-%m-%d %H:%M}Z {due}" + (f" - {row.reason}" if row.reason else "")
    )
    blocks: list[Block] = [
        Line(row.id + rest, bold=len(row.id)),
        Grid(
            ("store", "adapter", "status", "attempts", "matched", "affected", "residual", "error"),
            tuple(
                (s.store, s.adapter, s.status, str(s.attempts), str(s.matched), str(s.affected),
                 str(s.residual), f"{s.error_type}: {s.error}" if s.error_type else "")
                for s in row.stores
            ),
        ),
    ]  # fmt: skip
    warnings = [a for a in report.actions if a.action == "store_warning"]
    if warnings:
        blocks.append(Line("warnings:", soft_wrap=False))
        blocks.extend(Line(f"  {a.store}: {a.detail}") for a in warnings)
    if row.artifact_kind:
        blocks.append(
            Line(f"result: {row.artifact_kind} sha256:{row.artifact_sha256}", soft_wrap=False)
        )
    blocks.append(Line("history:", soft_wrap=False))
    for a in report.actions:
        where = f" [{a.store}]" if a.store else ""
        blocks.append(Line(f"  {a.at:%Y-%m-%d %H:%M:%S} {a.actor} {a.action}{where} {a.detail}"))
    blocks.append(Line("audit:", soft_wrap=False))
    for e in report.audit:
        times = ""
        if e.count > 1:
            times = f" x{e.count} (last {e.last_at:%Y-%m-%d %H:%M:%S})" if e.last_at else ""
        blocks.append(
            Line(f"  {e.at:%Y-%m-%d %H:%M:%S} {e.actor} {e.action} ({e.category}){times}")
        )
    return blocks


def emit(blocks: Sequence[Block], *, plain_ok: bool = True) -> None:
    """Print ``blocks`` to standard output (without Rich when ``cli.plain`` can)."""
    if plain_ok:
        from dsrflow.cli import plain

        text = plain.render(blocks)
        if text is not None:
            plain.write(text)
            return
    emit_rich(blocks)


def emit_rich(blocks: Sequence[Block]) -> None:
    """Print ``blocks`` through Rich (terminals, and anything ``cli.plain`` declines)."""
    from rich.markup import escape
    from rich.table import Table

    from dsrflow.cli.output import out

    for block in blocks:
        if isinstance(block, Line):
            if block.bold:
                head, tail = block.text[: block.bold], block.text[block.bold :]
                out.print(f"[bold]{escape(head)}[/]{escape(tail)}", soft_wrap=block.soft_wrap)
            else:
                out.print(block.text, soft_wrap=block.soft_wrap, markup=False)
            continue
        table = Table()
        for col in block.headers:
            table.add_column(escape(col))
        for cells in block.rows:
            table.add_row(*(escape(c) for c in cells))
        out.print(table)


def render_list(rows: Iterable[RequestSummary]) -> None:
    """Print requests as a table; every string from the ledger is printed as data."""
    emit(list_view(rows))


def render_report(report: RequestReport) -> None:
    """Print a request report; every string from the ledger is printed as data."""
    emit(report_view(report))
