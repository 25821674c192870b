"""``dsrflow tokens``: API tokens (admin only; each command audited). See docs/api.md."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dsrflow.cli.common import out, state

tokens_app = typer.Typer(help="API tokens for the HTTP API (admin only).", no_args_is_help=True)


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


@tokens_app.command("create")
def create(
    ctx: typer.Context,
    actor: Annotated[
        str, typer.Option(help="Who the token acts as, for the audit log (staff:ann, service:crm).")
    ],
    role: Annotated[list[str], typer.Option(help="A role it holds (repeat for several).")],
    expires_in: Annotated[str, typer.Option(help="Lifetime: 12h, 30d, 8w (at most 366d).")] = "30d",
) -> None:
    """Make a token; it is printed once and cannot be shown again."""
    from dsrflow.service.tokens import CreateToken

    st = state(ctx)
    made = CreateToken(st.runtime()).run(
        st.principal(), actor=actor, roles=list(role), expires_in=expires_in
    )
    info = made.info
    out.print(
        f"token {info.id} for {info.actor} ({', '.join(info.roles)}), "
        f"expires {info.expires_at:%Y-%m-%d %H:%M}Z",
        markup=False,
    )
    out.print("Copy it now; it is not shown again:", markup=False)
    out.print(made.token, markup=False, soft_wrap=True)


@tokens_app.command("list")
def list_(ctx: typer.Context) -> None:
    """List tokens (never their secrets): id, actor, roles, dates, state."""
    from dsrflow.service.tokens import ListTokens

    st = state(ctx)
    table = Table()
    for col in ("id", "actor", "roles", "created", "expires", "last used", "state"):
        table.add_column(col)
    for t in ListTokens(st.runtime()).run(st.principal()):
        table.add_row(
            t.id, escape(t.actor), escape(",".join(t.roles)), _when(t.created_at),
            _when(t.expires_at), _when(t.last_used_at), t.state(),
        )  # fmt: skip
    out.print(table)


@tokens_app.command("revoke")
def revoke(ctx: typer.Context, token_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Revoke a token now (its next API call gets 401)."""
    from dsrflow.service.tokens import RevokeToken

    st = state(ctx)
    info = RevokeToken(st.runtime()).run(st.principal(), token_id)
    out.print(f"revoked token {info.id} ({info.actor})", markup=False)
