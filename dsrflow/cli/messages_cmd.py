"""``dsrflow messages``: the outbox of messages to data subjects and staff (docs/messages.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from dsrflow.cli.common import out, state

messages_app = typer.Typer(
    help="Messages to data subjects and staff: send, list, check templates.",
    no_args_is_help=True,
)


def _at(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


@messages_app.command("send-pending")
def send_pending(ctx: typer.Context) -> None:
    """Send every message that is due now (the worker does this on a schedule)."""
    from dsrflow.service.messages import SendPending

    st = state(ctx)
    rt = st.runtime()
    rt.templates.check()
    r = SendPending(rt).run(st.principal())
    out.print(
        f"sent {r.sent}, failed {r.failed}, not sent {r.not_sent}, to retry later {r.retrying}"
    )


@messages_app.command("list")
def list_(
    ctx: typer.Context,
    request: Annotated[
        str | None, typer.Option("--request", help="One request's messages.")
    ] = None,
) -> None:
    """What was sent (by kind and recipient kind), when, and what went wrong; never an address."""
    from rich.table import Table

    from dsrflow.service.messages import ListMessages

    st = state(ctx)
    rows = ListMessages(st.runtime()).run(st.principal(), request_id=request)
    if not rows:
        out.print("no messages" + (f" for {escape(request)}" if request else ""))
        return
    table = Table()
    for col in ("id", "request", "kind", "to", "status", "via", "tries", "created", "next / sent",
                "problem"):  # fmt: skip
        table.add_column(col)
    for m in rows:
        table.add_row(
            str(m.id), escape(m.request_id), m.kind, m.recipient, m.status, m.channel or "",
            str(m.attempts), _at(m.created_at), _at(m.sent_at or m.next_attempt_at),
            escape(m.last_error or ""),
        )  # fmt: skip
    out.print(table)


@messages_app.command("check-templates")
def check_templates(ctx: typer.Context) -> None:
    """Compile and render every message template; a broken one is named with its line."""
    from dsrflow.service.messages import CheckTemplates

    st = state(ctx)
    used = CheckTemplates(st.runtime()).run(st.principal())
    for path in used:
        out.print(escape(path), markup=False)
    out.print(f"{len(used)} template file(s) OK")
