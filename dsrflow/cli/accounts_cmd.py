"""``dsrflow accounts``: console accounts (admin only; each audited). See docs/console.md."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dsrflow.cli.common import out, state
from dsrflow.errors import UserError

accounts_app = typer.Typer(help="Console accounts (admin only).", no_args_is_help=True)

Username = Annotated[str, typer.Argument(metavar="USERNAME", help="The account's name.")]


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


def _show_once(username: str, password: str) -> None:
    out.print(f"one-time password for {username} (to be replaced at the first sign-in).",
              markup=False)  # fmt: skip
    out.print("Hand it over safely; it is not shown again:", markup=False)
    out.print(password, markup=False, soft_wrap=True)


@accounts_app.command("create")
def create(
    ctx: typer.Context,
    username: Username,
    role: Annotated[list[str], typer.Option(help="A console role it holds (repeat for several).")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read its password from the first line of stdin."),
    ] = False,
    prompt: Annotated[
        bool, typer.Option("--prompt", help="Ask for its password (typed twice, not shown).")
    ] = False,
) -> None:
    """Make an account; without a password option it gets a one-time password, printed once."""
    from dsrflow.service.accounts import CreateAccount

    if password_stdin and prompt:
        raise UserError("--password-stdin and --prompt: choose one")
    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif prompt:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    st = state(ctx)
    made = CreateAccount(st.runtime()).run(
        st.principal(), username=username, roles=list(role), password=password
    )
    out.print(f"account {made.info.username} ({', '.join(made.info.roles)}) acts as "
              f"{made.info.actor}", markup=False)  # fmt: skip
    if made.one_time_password is not None:
        _show_once(made.info.username, made.one_time_password)


@accounts_app.command("list")
def list_(ctx: typer.Context) -> None:
    """List accounts (never their passwords): name, roles, state, dates."""
    from dsrflow.service.accounts import ListAccounts

    st = state(ctx)
    table = Table()
    for col in ("username", "roles", "state", "must change", "created", "last sign-in"):
        table.add_column(col)
    for a in ListAccounts(st.runtime()).run(st.principal()):
        table.add_row(
            escape(a.username), escape(",".join(a.roles)), a.state(),
            "yes" if a.must_change_password else "no", _when(a.created_at),
            _when(a.last_signin_at),
        )  # fmt: skip
    out.print(table)


@accounts_app.command("roles")
def roles(
    ctx: typer.Context,
    username: Username,
    role: Annotated[list[str], typer.Option(help="A role it holds from now (repeat).")],
) -> None:
    """Replace an account's roles (its sessions see the change at once)."""
    from dsrflow.service.accounts import SetRoles

    st = state(ctx)
    info = SetRoles(st.runtime()).run(st.principal(), username, roles=list(role))
    out.print(f"account {info.username}: {', '.join(info.roles)}", markup=False)


@accounts_app.command("reset")
def reset(ctx: typer.Context, username: Username) -> None:
    """Give an account a one-time password (its sessions end; a lockout is lifted)."""
    from dsrflow.service.accounts import ResetPassword

    st = state(ctx)
    made = ResetPassword(st.runtime()).run(st.principal(), username)
    assert made.one_time_password is not None
    _show_once(made.info.username, made.one_time_password)


@accounts_app.command("disable")
def disable(ctx: typer.Context, username: Username) -> None:
    """Disable an account: it cannot sign in, and its sessions end now."""
    from dsrflow.service.accounts import SetDisabled

    st = state(ctx)
    info = SetDisabled(st.runtime()).run(st.principal(), username, disabled=True)
    out.print(f"account {info.username}: disabled", markup=False)


@accounts_app.command("enable")
def enable(ctx: typer.Context, username: Username) -> None:
    """Enable a disabled account again."""
    from dsrflow.service.accounts import SetDisabled

    st = state(ctx)
    info = SetDisabled(st.runtime()).run(st.principal(), username, disabled=False)
    out.print(f"account {info.username}: enabled", markup=False)


@accounts_app.command("unlock")
def unlock(ctx: typer.Context, username: Username) -> None:
    """Lift a lockout after failed sign-ins before it runs out."""
    from dsrflow.service.accounts import UnlockAccount

    st = state(ctx)
    info = UnlockAccount(st.runtime()).run(st.principal(), username)
    out.print(f"account {info.username}: {info.state()}", markup=False)
