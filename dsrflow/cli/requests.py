"""``dsrflow request ...``: submit, watch, list, show, tasks and results of requests.

A thin adapter over ``dsrflow.service``: parse options, call the use case with the CLI's
principal, render what it returns. Every piece of user or store text is printed as data
(``escape``), never as Rich markup. People's actions (verify-identity, approve, ...) are in
``cli/actions.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dsrflow.cli import progress
from dsrflow.cli.common import CliState, out, run, state
from dsrflow.cli.render import day as _day
from dsrflow.cli.render import render_list
from dsrflow.cli.render import render_report as render_report
from dsrflow.errors import UserError
from dsrflow.service.intake import (  # noqa: F401 - re-exported for callers of the old home
    DRY_RUN_TYPES,
    new_request_id,
    parse_changes,
    parse_identities,
)

if TYPE_CHECKING:
    from dsrflow.domain import DsrInput, Identity
    from dsrflow.service.intake import Submit

app = typer.Typer(help="Data-subject requests.", no_args_is_help=True)


@app.command("submit")
def submit(
    ctx: typer.Context,
    type_: Annotated[
        str, typer.Option("--type", help="access|export|erasure|rectification|restriction")
    ],
    email: Annotated[list[str], typer.Option(help="Subject's e-mail address.")] = [],  # noqa: B006
    identity: Annotated[list[str], typer.Option(help="Other identifier, KIND=VALUE.")] = [],  # noqa: B006
    set_: Annotated[list[str], typer.Option("--set", help="Rectification: FIELD=VALUE.")] = [],  # noqa: B006
    request_id: Annotated[str | None, typer.Option(help="Use this id (retries reuse it).")] = None,
    case_ref: Annotated[
        str | None, typer.Option(help="Your case reference (no personal data).")
    ] = None,
    regulation: Annotated[str, typer.Option(help="gdpr | ccpa")] = "gdpr",
    wait: Annotated[bool, typer.Option(help="Follow progress until the request ends.")] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="With --wait: fetch results here.")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Run every store's real verb and sweep, roll back, print counts; change nothing.",
        ),
    ] = False,
) -> None:
    """Submit a request: one durable workflow whose id is the request id (retry-safe).

    With ``--dry-run`` the request passes no gates, changes no store, signs nothing, and the
    command waits and prints what a real run would do (exit 3 if it would need a person).
    """
    from dsrflow.service.intake import Submit, SubmitCommand

    st = state(ctx)
    principal = st.principal()
    cmd = SubmitCommand(
        type_, list(email), list(identity), list(set_), request_id, case_ref, regulation, dry_run
    )
    use_case = Submit(st.runtime())
    inp = use_case.check(principal, cmd)
    run(_submit(st, use_case, inp, wait or dry_run, out_dir))


async def _submit(
    st: CliState, use_case: Submit, inp: DsrInput, wait: bool, out_dir: Path | None
) -> None:
    principal = st.principal()
    rc = await use_case.requests()
    # The id first: if the answer never comes, retrying with this id cannot create a second one.
    dry = " dry-run" if inp.dry_run else ""
    out.print(f"submitting{dry} {inp.request_type} request {inp.request_id} ...", markup=False)
    done = await use_case.run(principal, inp, rc)
    ack = done.ack
    if done.created:
        out.print(
            f"submitted {inp.request_type} request [bold]{inp.request_id}[/] "
            f"({ack.status}, due {ack.due_at:%Y-%m-%d})"
        )
    else:
        out.print(
            f"request [bold]{inp.request_id}[/] was already submitted at "
            f"{ack.received_at:%Y-%m-%d %H:%M:%S}Z ({ack.status}); not created again"
        )
    if wait:
        view = await progress.watch(rc, inp.request_id)
        if inp.dry_run and progress.dry_run_report(view):
            raise typer.Exit(progress.NEEDS_PERSON_EXIT)
        if out_dir is not None and view.artifact is not None:
            _export(st, inp.request_id, out_dir, settle_s=10.0)


@app.command("watch")
def watch(ctx: typer.Context, request_id: str) -> None:
    """Follow a request's per-store progress live until it ends or needs a person.

    Exit codes: 0 the request ended; 3 it needs a person (one line says what); 4 its workflow
    closed without reaching an end state.
    """
    from dsrflow.service.reads import WatchRequest

    st = state(ctx)

    async def go() -> None:
        rc = await WatchRequest(st.runtime()).open(st.principal(), request_id)
        await progress.watch(rc, request_id)

    run(go())


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(help="A request status (e.g. needs-attention, running) or overdue."),
    ] = None,
    limit: int = 50,
    subject: Annotated[
        str | None,
        typer.Option(
            metavar="KIND=VALUE",
            help="Requests about this identifier (email=..., phone=...), found through the "
            "keyed blind index; audited as a view (the kind only, never the value).",
        ),
    ] = None,
) -> None:
    """List requests from the ledger (never scans Temporal)."""
    from dsrflow.service.reads import ListRequests

    st = state(ctx)
    rows = ListRequests(st.runtime()).run(st.principal(), status, limit, subject=subject)
    render_list(rows)


@app.command("show")
def show(
    ctx: typer.Context,
    request_id: str,
    all_: Annotated[
        bool, typer.Option("--all", help="Every audit entry (views and decodes unfolded).")
    ] = False,
    reveal: Annotated[
        bool,
        typer.Option(
            "--reveal",
            help="Also decode the subject's identifiers (analyst, admin; needs --reason; "
            "audited as a decode).",
        ),
    ] = False,
    reason: Annotated[
        str | None, typer.Option(help="Why the identifiers are revealed (recorded).")
    ] = None,
) -> None:
    """Show a request's state, its history of actions and its audit trail (an audited view).

    The audit trail shows decisions and downloads one by one and folds repeated views and
    decodes into one line with a count; ``--all`` lists every entry. The subject's identifiers
    are never shown unless ``--reveal --reason TEXT`` asks for them.
    """
    from dsrflow.service.reads import ShowRequest
    from dsrflow.service.reveal import RevealSubject

    st = state(ctx)
    principal = st.principal()
    if reason is not None and not reveal:
        raise UserError("--reason goes with --reveal")
    if reveal:  # refused before anything is shown or contacted
        RevealSubject(st.runtime()).check(principal, request_id, reason)
    render_report(ShowRequest(st.runtime()).run(principal, request_id, everything=all_))
    if reveal:

        async def go() -> list[Identity]:
            return await RevealSubject(st.runtime()).run(principal, request_id, reason=reason)

        out.print("[bold]subject[/] (revealed; this decode is audited)")
        for ident in run(go()):
            out.print(f"  {escape(ident.kind)}: {escape(ident.value)}")


@app.command("tasks")
def tasks(ctx: typer.Context, all_: Annotated[bool, typer.Option("--all")] = False) -> None:
    """List manual tasks waiting for a person (``complete-task`` closes one)."""
    from dsrflow.service.reads import ListTasks

    st = state(ctx)
    table = Table()
    for col in ("request", "store", "opened", "escalated", "closed", "instructions"):
        table.add_column(col)
    for t in ListTasks(st.runtime()).run(st.principal(), everything=all_):
        table.add_row(
            escape(t.request_id), escape(t.store), f"{t.opened_at:%Y-%m-%d %H:%M}",
            _day(t.escalated_at),
            escape(f"{t.outcome} by {t.closed_by}") if t.closed_at else "",
            escape(t.instructions),
        )  # fmt: skip
    out.print(table)


@app.command("result")
def result(
    ctx: typer.Context,
    request_id: str,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the deliverables to.")],
) -> None:
    """Decrypt and write a finished request's deliverables (an audited download).

    Exit code 3 if the request has not finished yet.
    """
    _export(state(ctx), request_id, out_dir)


def _export(st: CliState, request_id: str, out_dir: Path, *, settle_s: float = 0.0) -> None:
    from dsrflow.service.results import DownloadResult

    written = DownloadResult(st.runtime()).run(
        st.principal(), request_id, out_dir, settle_s=settle_s
    )
    for path in written:
        out.print(f"wrote {path}", markup=False, soft_wrap=True)
