"""``dsrflow ledger reconcile``: keep the ledger's projection true to Temporal.

Registered on the ``ledger`` group of ``ledger_upgrade.py`` (commands load lazily).
"""

from __future__ import annotations

from typing import Annotated

import typer

from dsrflow.cli.common import run, state


def reconcile(
    ctx: typer.Context,
    request_ids: Annotated[
        list[str] | None, typer.Argument(help="Requests to check (default: every open one).")
    ] = None,
) -> None:
    """Check open requests against their workflows; project ends outside dsrflow, fix drift."""
    from rich.markup import escape

    from dsrflow.cli.common import out
    from dsrflow.service.operations import Reconcile

    st = state(ctx)
    found = run(Reconcile(st.runtime()).run(st.principal(), request_ids))
    for f in found:
        if f.kind != "ok":
            out.print(escape(f"{f.request_id}: {f.kind}" + (f" ({f.detail})" if f.detail else "")))
    changed = sum(f.kind in ("ended_outside", "rebuilt") for f in found)
    out.print(f"checked {len(found)} request(s); {changed} reconciled")
