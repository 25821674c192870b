"""``dsrflow ledger``: keep the ledger's projection true to Temporal."""

from __future__ import annotations

from typing import Annotated

import typer

from dsrflow.cli.common import run, state

ledger_app = typer.Typer(help="The ledger database.", no_args_is_help=True)


@ledger_app.command("reconcile")
def reconcile(
    ctx: typer.Context,
    request_ids: Annotated[
        list[str] | None, typer.Argument(help="Requests to check (default: every open one).")
    ] = None,
) -> None:
    """Check open requests against their workflows; project ends outside dsrflow, fix drift."""
    from rich.markup import escape

    from dsrflow.cli.common import out
    from dsrflow.reconciler import Reconciler
    from dsrflow.requests_client import RequestClient

    rt = state(ctx).runtime()

    async def go() -> list:
        rc = RequestClient(await rt.client(), rt.settings.task_queue)
        return await Reconciler(rt.ledger, rc).run(request_ids)

    found = run(go())
    for f in found:
        if f.kind != "ok":
            out.print(escape(f"{f.request_id}: {f.kind}" + (f" ({f.detail})" if f.detail else "")))
    changed = sum(f.kind in ("ended_outside", "rebuilt") for f in found)
    out.print(f"checked {len(found)} request(s); {changed} reconciled")
