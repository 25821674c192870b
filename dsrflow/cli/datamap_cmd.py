"""``dsrflow datamap``: the record of processing activities, Art. 30(1) (docs/discovery.md)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from dsrflow.cli.common import out, state
from dsrflow.errors import UserError


class Format(StrEnum):
    """Record formats."""

    html = "html"
    json = "json"


def datamap(
    ctx: typer.Context,
    fmt: Annotated[Format, typer.Option("--format", help="html or json.")] = Format.html,
    output: Annotated[
        Path | None, typer.Option("--out", help="Write the record to this file, not stdout.")
    ] = None,
    scan_report: Annotated[
        Path | None,
        typer.Option("--scan-report", help="JSON of 'dsrflow scan --format json': marks stores."),
    ] = None,
) -> None:
    """The record of processing activities (GDPR Art. 30(1)) generated from the catalog.

    Per store: purposes, legal basis, categories of data subjects and of data, recipients,
    transfers outside the EEA and their safeguards, retention, security measures. Stores
    with unmapped personal data in --scan-report are marked.
    """
    from dsrflow.catalog.datamap import render_html
    from dsrflow.service.datamap import DataMap

    report: Any = None
    if scan_report is not None:
        try:
            report = json.loads(scan_report.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UserError(f"--scan-report {scan_report}: cannot read ({exc.strerror})") from None
        except ValueError:
            raise UserError(f"--scan-report {scan_report}: not JSON") from None
    st = state(ctx)
    model = DataMap(st.runtime()).run(
        st.principal(), scan_report=report,
        scan_source=None if scan_report is None else scan_report.name,
    )  # fmt: skip
    text = render_html(model) if fmt is Format.html else json.dumps(model, indent=2)
    if output is not None:
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise UserError(f"--out {output}: cannot write ({exc.strerror})") from None
    else:
        out.print(text, markup=False, soft_wrap=True, highlight=False)
