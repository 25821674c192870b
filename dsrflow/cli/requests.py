"""``dsrflow request ...``: submit, watch, list, show, tasks and results of requests.

People's actions on a request (verify-identity, approve, ...) are in ``cli/actions.py``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dsrflow.cli import progress
from dsrflow.cli.common import CliState, out, run, state
from dsrflow.errors import UserError

if TYPE_CHECKING:
    from dsrflow.domain import DsrInput, FieldChange, Identity
    from dsrflow.identity import IdentityKinds
    from dsrflow.requests_client import RequestClient

app = typer.Typer(help="Data-subject requests.", no_args_is_help=True)
DRY_RUN_TYPES = ("access", "export", "erasure")


def new_request_id(now: datetime | None = None) -> str:
    """An opaque request id: date plus randomness, never derived from personal data."""
    now = now or datetime.now(UTC)
    return f"dsr-{now:%Y%m%d}-{secrets.token_hex(4)}"


def parse_identities(
    email: list[str], identity: list[str], kinds: IdentityKinds | None = None
) -> list[Identity]:
    """Turn ``--email`` and ``--identity kind=value`` options into normalised identities.

    Args:
        email: ``--email`` values.
        identity: ``--identity KIND=VALUE`` values.
        kinds: The catalog's identity kinds (normalisers, default country code). With them, a
            kind the catalog does not know is refused; without, built-in rules apply.

    """
    from dsrflow.domain import Identity
    from dsrflow.identity import DEFAULT_KINDS, valid_kind

    registry = kinds or DEFAULT_KINDS

    pairs = [("email", e) for e in email]
    for item in identity:
        kind, sep, value = item.partition("=")
        if not sep or not value.strip():
            raise UserError(f"--identity {kind}=...: expected KIND=VALUE")
        if not valid_kind(kind):
            raise UserError(f"--identity: kind {kind!r} must be a short lower-case name")
        if kinds is not None and not kinds.known(kind):
            known = ", ".join(kinds.names())
            raise UserError(f"--identity: unknown identity kind {kind!r} (known: {known})")
        pairs.append((kind, value))
    if not pairs:
        raise UserError("give the subject's identifier: --email ADDRESS or --identity KIND=VALUE")
    ids = []
    for kind, value in pairs:
        norm = registry.normalize(kind, value)
        if kind == "email" and ("@" not in norm or norm.startswith("@") or norm.endswith("@")):
            raise UserError("--email: not an e-mail address")
        if not norm:
            raise UserError(f"--identity {kind}=...: no value left after normalising")
        ids.append(Identity(kind, norm))
    return list(dict.fromkeys(ids))


def catalog_kinds(st: CliState) -> IdentityKinds | None:
    """The catalog's identity kinds, or None when there is no catalog file (built-in rules)."""
    rt = st.runtime()
    if not rt.settings.catalog.exists():
        return None
    return rt.catalog.identity_kinds


def parse_changes(items: list[str]) -> list[FieldChange]:
    """``--set field=value`` options of a rectification request."""
    from dsrflow.domain import FieldChange

    changes = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--set {item.split('=')[0]}=...: expected FIELD=VALUE")
        changes.append(FieldChange(name.strip(), value))
    return changes


async def request_client(st: CliState) -> RequestClient:
    """A connected request client."""
    from dsrflow.requests_client import RequestClient

    rt = st.runtime()
    return RequestClient(await rt.client(), rt.settings.task_queue)


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
    from dsrflow.artifacts import check_request_id
    from dsrflow.domain import DsrInput, RequestType

    try:
        rtype = RequestType(type_)
    except ValueError:
        kinds = ", ".join(t.value for t in RequestType)
        raise UserError(f"--type: {type_!r} is not one of {kinds}") from None
    if regulation not in ("gdpr", "ccpa"):
        raise UserError(f"--regulation: {regulation!r} is not one of gdpr, ccpa")
    changes = parse_changes(set_)
    if (rtype == RequestType.RECTIFICATION) != bool(changes):
        raise UserError("--set FIELD=VALUE is required for rectification, and only for it")
    if dry_run and rtype not in DRY_RUN_TYPES:
        raise UserError(f"--dry-run: {rtype} cannot run as a dry run (access, export, erasure can)")
    inp = DsrInput(
        request_id=check_request_id(request_id or new_request_id()),
        request_type=rtype,
        identities=parse_identities(email, identity, catalog_kinds(state(ctx))),
        received_at=datetime.now(UTC),
        regulation=regulation,
        case_ref=case_ref,
        changes=changes,
        dry_run=dry_run,
    )
    run(_submit(state(ctx), inp, wait or dry_run, out_dir))


async def _submit(st: CliState, inp: DsrInput, wait: bool, out_dir: Path | None) -> None:
    rc = await request_client(st)
    # The id first: if the answer never comes, retrying with this id cannot create a second one.
    dry = " dry-run" if inp.dry_run else ""
    out.print(f"submitting{dry} {inp.request_type} request {inp.request_id} ...")
    done = await rc.submit(inp)
    rt = st.runtime()
    ack = done.ack
    if done.created:
        rt.ledger.audit(
            st.who(), "submit", inp.request_id, type=str(inp.request_type), dry_run=inp.dry_run
        )
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
            _export(st, inp.request_id, out_dir)


@app.command("watch")
def watch(ctx: typer.Context, request_id: str) -> None:
    """Follow a request's per-store progress live until it ends or needs a person.

    Exit codes: 0 the request ended; 3 it needs a person (one line says what); 4 its workflow
    closed without reaching an end state.
    """
    st = state(ctx)

    async def go() -> None:
        await progress.watch(await request_client(st), request_id)

    run(go())


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="e.g. needs-attention, running, overdue.")
    ] = None,
    limit: int = 50,
) -> None:
    """List requests from the ledger (never scans Temporal)."""
    wanted = status.replace("-", "_") if status else None
    ledger = state(ctx).runtime().ledger
    if wanted == "overdue":  # open and late; ended requests keep their flag in `show`
        rows = [r for r in ledger.list_requests(overdue=True, limit=limit) if not r.completed_at]
    else:
        rows = ledger.list_requests(status=wanted, limit=limit)
    table = Table()
    for col in ("request", "type", "status", "received", "due", "stores"):
        table.add_column(col)
    for r in rows:
        due = f"{r.due_at:%Y-%m-%d}" + (" OVERDUE" if r.overdue else "") if r.due_at else ""
        table.add_row(
            r.id, r.type, r.status, f"{r.received_at:%Y-%m-%d %H:%M}", due, str(len(r.stores))
        )
    out.print(table)


@app.command("show")
def show(ctx: typer.Context, request_id: str) -> None:
    """Show a request's projected state, its history of human actions and its audit trail."""
    st = state(ctx)
    ledger = st.runtime().ledger
    row = ledger.get_request(request_id)
    if row is None:
        raise UserError(f"request {request_id}: not in the ledger")
    ledger.audit(st.who(), "view", request_id)
    actions = ledger.actions(request_id)
    dry = " DRY RUN" if any(a.action == "dry_run" for a in actions) else ""
    due = f"due {row.due_at:%Y-%m-%d}" if row.due_at else ""
    out.print(
        f"[bold]{row.id}[/] {row.type}{dry} {row.status}{' OVERDUE' if row.overdue else ''} "
        f"received {row.received_at:%Y-%m-%d %H:%M}Z {due}"
        + (f" - {row.reason}" if row.reason else "")
    )
    table = Table()
    for col in (
        "store",
        "adapter",
        "status",
        "attempts",
        "matched",
        "affected",
        "residual",
        "error",
    ):
        table.add_column(col)
    for s in row.stores:
        table.add_row(
            s.store, s.adapter, s.status, str(s.attempts), str(s.matched), str(s.affected),
            str(s.residual), f"{s.error_type}: {s.error}" if s.error_type else "",
        )  # fmt: skip
    out.print(table)
    warnings = [a for a in actions if a.action == "store_warning"]
    if warnings:
        out.print("warnings:")
        for a in warnings:
            out.print(f"  {a.store}: {a.detail}", soft_wrap=True)
    if row.artifact_kind:
        out.print(f"result: {row.artifact_kind} sha256:{row.artifact_sha256}")
    out.print("history:")
    for a in actions:
        where = f" [{a.store}]" if a.store else ""
        out.print(f"  {a.at:%Y-%m-%d %H:%M:%S} {a.actor} {a.action}{where} {a.detail}")
    out.print("audit:")
    for e in ledger.audit_entries(request_id):
        out.print(f"  {e.at:%Y-%m-%d %H:%M:%S} {e.actor} {e.action}")


@app.command("tasks")
def tasks(ctx: typer.Context, all_: Annotated[bool, typer.Option("--all")] = False) -> None:
    """List manual tasks waiting for a person (``complete-task`` closes one)."""
    table = Table()
    for col in ("request", "store", "opened", "escalated", "closed", "instructions"):
        table.add_column(col)
    for t in state(ctx).runtime().ledger.tasks(open_only=not all_):
        table.add_row(
            t.request_id, t.store, f"{t.opened_at:%Y-%m-%d %H:%M}",
            f"{t.escalated_at:%Y-%m-%d}" if t.escalated_at else "",
            f"{t.outcome} by {t.closed_by}" if t.closed_at else "", t.instructions,
        )  # fmt: skip
    out.print(table)


@app.command("result")
def result(
    ctx: typer.Context,
    request_id: str,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the deliverables to.")],
) -> None:
    """Decrypt and write a finished request's deliverables (an audited download)."""
    _export(state(ctx), request_id, out_dir)


def _export(st: CliState, request_id: str, out_dir: Path) -> None:
    rt = st.runtime()
    written = rt.artifacts.export(request_id, out_dir)
    rt.ledger.audit(st.who(), "download", request_id, files=[p.name for p in written])
    for path in written:
        out.print(f"wrote {path}")
