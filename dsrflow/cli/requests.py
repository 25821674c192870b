"""``dsrflow request ...``: submit, watch, list, show and fetch results of requests."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dsrflow.cli.common import CliState, is_tty, out, run, state
from dsrflow.errors import UserError

if TYPE_CHECKING:
    from temporalio.client import Client, WorkflowHandle

    from dsrflow.domain import DsrInput, StatusView

app = typer.Typer(help="Data-subject requests.", no_args_is_help=True)

WORKFLOW = "DataSubjectRequest"


def new_request_id(now: datetime | None = None) -> str:
    """An opaque request id: date plus randomness, never derived from personal data."""
    now = now or datetime.now(UTC)
    return f"dsr-{now:%Y%m%d}-{secrets.token_hex(4)}"


def parse_identities(email: list[str], identity: list[str]) -> list:
    """Turn ``--email`` and ``--identity kind=value`` options into normalised identities."""
    from dsrflow.domain import Identity
    from dsrflow.identity import normalize_value, valid_kind

    pairs = [("email", e) for e in email]
    for item in identity:
        kind, sep, value = item.partition("=")
        if not sep or not value.strip():
            raise UserError(f"--identity {kind}=...: expected KIND=VALUE")
        if not valid_kind(kind):
            raise UserError(f"--identity: kind {kind!r} must be a short lower-case name")
        pairs.append((kind, value))
    if not pairs:
        raise UserError("give the subject's identifier: --email ADDRESS or --identity KIND=VALUE")
    ids = []
    for kind, value in pairs:
        norm = normalize_value(kind, value)
        if kind == "email" and ("@" not in norm or norm.startswith("@") or norm.endswith("@")):
            raise UserError("--email: not an e-mail address")
        ids.append(Identity(kind, norm))
    return list(dict.fromkeys(ids))


@app.command("submit")
def submit(
    ctx: typer.Context,
    type_: Annotated[str, typer.Option("--type", help="access | export | erasure")],
    email: Annotated[list[str], typer.Option(help="Subject's e-mail address.")] = [],  # noqa: B006
    identity: Annotated[list[str], typer.Option(help="Other identifier, KIND=VALUE.")] = [],  # noqa: B006
    request_id: Annotated[
        str | None, typer.Option(help="Use this id (default: generated).")
    ] = None,
    case_ref: Annotated[
        str | None, typer.Option(help="Your case reference (no personal data).")
    ] = None,
    regulation: Annotated[str, typer.Option(help="gdpr | ccpa")] = "gdpr",
    wait: Annotated[bool, typer.Option(help="Follow progress until the request ends.")] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="With --wait: fetch results here.")
    ] = None,
) -> None:
    """Submit a request: starts one durable workflow whose id is the request id."""
    from dsrflow.artifacts import check_request_id
    from dsrflow.domain import DsrInput, RequestType

    try:
        rtype = RequestType(type_)
    except ValueError:
        raise UserError(f"--type: {type_!r} is not one of access, export, erasure") from None
    if regulation not in ("gdpr", "ccpa"):
        raise UserError(f"--regulation: {regulation!r} is not one of gdpr, ccpa")
    inp = DsrInput(
        request_id=check_request_id(request_id or new_request_id()),
        request_type=rtype,
        identities=parse_identities(email, identity),
        received_at=datetime.now(UTC),
        regulation=regulation,
        case_ref=case_ref,
    )
    st = state(ctx)
    run(_submit(st, inp, wait, out_dir))


async def _submit(st: CliState, inp: DsrInput, wait: bool, out_dir: Path | None) -> None:
    from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
    from temporalio.exceptions import WorkflowAlreadyStartedError

    rt = st.runtime()
    client = await rt.client()
    try:
        handle = await client.start_workflow(
            WORKFLOW,
            inp,
            id=inp.request_id,
            task_queue=rt.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        raise UserError(f"request {inp.request_id} already exists; not submitted again") from None
    rt.ledger.audit(st.who(), "submit", inp.request_id, type=str(inp.request_type))
    out.print(f"submitted {inp.request_type} request [bold]{inp.request_id}[/]")
    if wait:
        view = await _watch(client, handle)
        if out_dir is not None and view.artifact is not None:
            _export(st, inp.request_id, out_dir)


@app.command("watch")
def watch(ctx: typer.Context, request_id: str) -> None:
    """Follow a request's per-store progress live until it ends."""
    st = state(ctx)

    async def go() -> None:
        client = await st.runtime().client()
        await _watch(client, client.get_workflow_handle(request_id))

    run(go())


async def _watch(client: Client, handle: WorkflowHandle) -> StatusView:
    from rich.live import Live
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError

    from dsrflow.domain import StatusView

    async def poll() -> tuple[StatusView | None, bool]:
        try:
            desc = await handle.describe()
        except RPCError:
            raise UserError(f"request {handle.id}: not found in Temporal") from None
        view = await handle.query("status", result_type=StatusView)
        return view, desc.status != WorkflowExecutionStatus.RUNNING

    seen: dict[str, str] = {}
    if is_tty():
        with Live(refresh_per_second=4, console=out) as live:
            while True:
                view, done = await poll()
                live.update(status_table(view))
                if done:
                    break
                await asyncio.sleep(0.25)
    else:
        while True:
            view, done = await poll()
            for o in view.stores:
                if seen.get(o.store) != o.status:
                    seen[o.store] = o.status
                    out.print(f"  {o.store:<12} {o.status:<14} {_counts(o)}")
            if done:
                break
            await asyncio.sleep(0.25)
    assert view is not None
    out.print(f"request {view.request_id}: [bold]{view.status}[/]")
    return view


def _counts(o: object) -> str:
    receipt = getattr(o, "receipt", None)
    check = getattr(o, "verification", None)
    parts = []
    if receipt is not None:
        parts.append(f"matched={receipt.matched}")
        if receipt.action != "access":
            parts.append(f"affected={receipt.affected}")
    if check is not None:
        parts.append(f"residual={check.residual}")
    if getattr(o, "error", None):
        parts.append(f"error={o.error_type}: {o.error}")  # type: ignore[attr-defined]
    return " ".join(parts)


def status_table(view: StatusView) -> Table:
    """Rich table of a request's stores."""
    table = Table(title=f"{view.request_id} ({view.request_type}) - {view.status}")
    for col in ("store", "adapter", "status", "attempts", "details"):
        table.add_column(col)
    for o in view.stores:
        table.add_row(o.store, o.adapter, str(o.status), str(o.attempts), _counts(o))
    return table


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only requests in this status.")] = None,
    limit: int = 50,
) -> None:
    """List requests from the ledger (never scans Temporal)."""
    rows = state(ctx).runtime().ledger.list_requests(status=status, limit=limit)
    table = Table()
    for col in ("request", "type", "status", "received", "stores"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.id, r.type, r.status, f"{r.received_at:%Y-%m-%d %H:%M}", str(len(r.stores)))
    out.print(table)


@app.command("show")
def show(ctx: typer.Context, request_id: str) -> None:
    """Show a request's projected state and its audit trail."""
    st = state(ctx)
    ledger = st.runtime().ledger
    row = ledger.get_request(request_id)
    if row is None:
        raise UserError(f"request {request_id}: not in the ledger")
    ledger.audit(st.who(), "view", request_id)
    out.print(
        f"[bold]{row.id}[/] {row.type} {row.status} received {row.received_at:%Y-%m-%d %H:%M}Z"
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
    if row.artifact_kind:
        out.print(f"result: {row.artifact_kind} sha256:{row.artifact_sha256}")
    for a in ledger.audit_entries(request_id):
        out.print(f"  {a.at:%Y-%m-%d %H:%M:%S} {a.actor} {a.action}")


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
