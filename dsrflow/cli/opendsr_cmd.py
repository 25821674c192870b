"""``dsrflow opendsr controllers``: the OpenDSR controllers allowed to send requests (admin).

See docs/api.md, "OpenDSR inbound".
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dsrflow.cli.common import out, state

opendsr_app = typer.Typer(help="OpenDSR inbound (dsrflow as a processor).", no_args_is_help=True)
controllers_app = typer.Typer(help="Controllers allowed to send requests.", no_args_is_help=True)
opendsr_app.add_typer(controllers_app, name="controllers")


@controllers_app.command("add")
def add(
    ctx: typer.Context,
    domain: Annotated[str, typer.Argument(help="The controller's domain (controller.example).")],
    callback_url: Annotated[
        list[str] | None,
        typer.Option(help="A URL prefix its status callbacks may go to (repeat for several)."),
    ] = None,
    expires_in: Annotated[str, typer.Option(help="Token lifetime: 12h, 30d, 8w.")] = "366d",
) -> None:
    """Allow a controller; its bearer token is printed once."""
    from dsrflow.service.opendsr_controllers import AddController

    st = state(ctx)
    info, token = AddController(st.runtime()).run(
        st.principal(), domain=domain, callback_urls=list(callback_url or []),
        expires_in=expires_in,
    )  # fmt: skip
    out.print(f"controller {info.domain} added (token {info.token_id})", markup=False)
    out.print("Give it this token now; it is not shown again:", markup=False)
    out.print(token, markup=False, soft_wrap=True)


@controllers_app.command("list")
def list_(ctx: typer.Context) -> None:
    """The controllers allowed now, with their token ids and callback allow-lists."""
    from dsrflow.service.opendsr_controllers import ListControllers

    st = state(ctx)
    table = Table()
    for col in ("domain", "token", "callback URLs", "added"):
        table.add_column(col)
    for c in ListControllers(st.runtime()).run(st.principal()):
        table.add_row(escape(c.domain), c.token_id, escape(" ".join(c.callback_urls)) or "-",
                      f"{c.created_at:%Y-%m-%d %H:%M}")  # fmt: skip
    out.print(table)


@controllers_app.command("remove")
def remove(ctx: typer.Context, domain: Annotated[str, typer.Argument()]) -> None:
    """Remove a controller and revoke its token (its requests run on)."""
    from dsrflow.service.opendsr_controllers import RemoveController

    st = state(ctx)
    info = RemoveController(st.runtime()).run(st.principal(), domain)
    out.print(f"removed controller {info.domain}; token {info.token_id} revoked", markup=False)
