"""``dsrflow package``: access packages for operators (docs/access-package.md, "Retention")."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from dsrflow.cli.common import out, state

package_app = typer.Typer(
    help="Access packages: list them, purge them (admin).", no_args_is_help=True
)


def _at(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


@package_app.command("list")
def list_(ctx: typer.Context) -> None:
    """Every package: request, kind, size, created, expires, downloads, purged."""
    from rich.table import Table

    from dsrflow.service.packages import ListPackages

    st = state(ctx)
    rows = ListPackages(st.runtime()).run(st.principal())
    if not rows:
        out.print("no access packages")
        return
    table = Table()
    for col in ("request", "kind", "size", "created", "expires", "delivered", "purged"):
        table.add_column(col)
    for p in rows:
        table.add_row(
            escape(p.request_id), p.request_type, f"{p.size:,}" if p.size else "",
            _at(p.created_at), _at(p.expires_at),
            f"yes ({p.delivered})" if p.delivered else "no", _at(p.purged_at),
        )  # fmt: skip
    out.print(table)


@package_app.command("purge")
def purge(
    ctx: typer.Context,
    request: Annotated[
        str | None,
        typer.Option("--request", help="Delete this request's package now, whatever its window."),
    ] = None,
) -> None:
    """Delete packages past their delivery window (or one request's); each deletion is audited."""
    from dsrflow.service.packages import PurgePackages

    st = state(ctx)
    done = PurgePackages(st.runtime()).run(st.principal(), request_id=request)
    if not done:
        out.print("no access package past its delivery window")
    for rid in done:
        out.print(f"deleted the access package of {rid}", markup=False)
