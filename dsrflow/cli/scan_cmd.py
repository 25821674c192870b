"""``dsrflow scan``: discover personal data the catalog does not cover (docs/discovery.md)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dsrflow.cli.common import out, state
from dsrflow.errors import UserError


class Format(StrEnum):
    """Report formats."""

    table = "table"
    json = "json"
    html = "html"
    sarif = "sarif"


def scan(
    ctx: typer.Context,
    store: Annotated[str | None, typer.Argument(help="Store to scan (or --all).")] = None,
    all_stores: Annotated[bool, typer.Option("--all", help="Scan every SQL store.")] = False,
    fmt: Annotated[
        Format, typer.Option("--format", help="table, json, html or sarif.")
    ] = Format.table,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write the report to this file, not stdout.")
    ] = None,
    fail_on_unmapped: Annotated[
        bool, typer.Option("--fail-on-unmapped", help="Exit 1 if any table is unmapped (CI gate).")
    ] = False,
    suggest: Annotated[
        bool, typer.Option("--suggest", help="Print a catalog snippet per unmapped table.")
    ] = False,
) -> None:
    """Scan SQL stores for personal data the catalog does not map: a coverage report.

    Read-only, sampled and bounded (DSRFLOW_SCAN_* settings); reports carry classes and counts,
    never a value. Exit 1 when a store cannot be scanned, or with --fail-on-unmapped when a
    table holds unmapped personal data.
    """
    from dsrflow.discovery import render
    from dsrflow.service.scan import ScanStores

    st = state(ctx)
    result = ScanStores(st.runtime()).run(st.principal(), store, all_stores=all_stores)
    if fmt is Format.table:
        if output is not None:
            raise UserError("--output: needs --format json, html or sarif")
        _table(result)
    else:
        if fmt is Format.html:
            from dsrflow.discovery.html import to_html

            text = to_html(result)
        else:
            data = render.to_json(result) if fmt is Format.json else render.to_sarif(result)
            text = json.dumps(data, indent=2, sort_keys=False)
        if output is not None:
            try:
                output.write_text(text + "\n", encoding="utf-8")
            except OSError as exc:
                raise UserError(f"--output {output}: cannot write ({exc.strerror})") from None
        else:
            out.print(text, markup=False, soft_wrap=True, highlight=False)
    if suggest:
        snippet = render.suggest(result)
        out.print(snippet or "# nothing unmapped: no snippet to suggest", markup=False,
                  soft_wrap=True)  # fmt: skip
    if result.failed or (fail_on_unmapped and result.unmapped_count):
        raise typer.Exit(1)


def _table(result: object) -> None:
    from dsrflow.discovery.report import ScanResult

    assert isinstance(result, ScanResult)
    for s in result.stores:
        if s.error:
            out.print(f"[red]FAIL[/] {escape(s.error)}", soft_wrap=True)
            continue
        if s.skipped:
            out.print(f"SKIP store {s.store} ({s.dialect}): {s.skipped}", markup=False)
            continue
        table = Table(title=escape(f"store {s.store} ({s.dialect})"))
        for col in ("table", "column", "status", "findings"):
            table.add_column(col)
        for t in s.tables:
            note = t.reason or t.not_sampled or f"{t.sampled_rows} rows sampled"
            note = "covered by the catalog" if t.status == "mapped" else note
            table.add_row(escape(t.qualified), "", _mark(t.status), escape(note))
            for c in t.columns:
                if c.status in ("unmapped", "ignored"):
                    found = ", ".join(
                        f"{f.cls} {f.confidence:.2f} {f.evidence} {f.matched}/{f.sampled}"
                        for f in c.findings if f.confidence >= result.min_confidence
                    )  # fmt: skip
                    table.add_row("", escape(c.name), _mark(c.status), escape(c.reason or found))
        out.print(table)
        if s.budget is not None:
            b = s.budget
            out.print(
                f"budget: {b.rows_read}/{b.max_rows} rows, {b.seconds:g}/{b.max_seconds:g} s, "
                f"{b.statements} statements (timeout {b.statement_timeout_s:g} s each)",
                markup=False,
            )
        counts = {k: sum(1 for t in s.tables if t.status == k)
                  for k in ("mapped", "unmapped", "ignored", "clean")}  # fmt: skip
        out.print(", ".join(f"{v} {k}" for k, v in counts.items()), markup=False)


def _mark(status: str) -> str:
    color = {"unmapped": "red", "mapped": "green", "ignored": "yellow"}.get(status, "white")
    return f"[{color}]{status}[/]"
