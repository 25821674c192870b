"""People's actions on a request: validated Temporal updates, recorded with who and when."""

from __future__ import annotations

from typing import Annotated

import typer

from dsrflow.cli.common import CliState, out, run, state
from dsrflow.cli.requests import app, request_client
from dsrflow.errors import UserError


def _act(st: CliState, request_id: str, update: str, arg: object) -> None:
    async def go() -> None:
        ack = await (await request_client(st)).act(request_id, update, arg)
        st.runtime().ledger.audit(st.who(), update, request_id)
        due = f", due {ack.due_at:%Y-%m-%d}" if ack.due_at else ""
        out.print(f"{request_id}: {ack.message} ({ack.status}{due})")

    run(go())


Reason = Annotated[str, typer.Option(help="Why (recorded; no personal data).")]


@app.command("verify-identity")
def verify_identity(
    ctx: typer.Context,
    request_id: str,
    method: Annotated[str, typer.Option(help="e.g. email_link, account_login, document_check.")],
    reference: Annotated[
        str | None, typer.Option(help="Ticket/case reference of the check.")
    ] = None,
) -> None:
    """Record that you verified the requester's identity."""
    from dsrflow.lifecycle import IdentityVerification

    st = state(ctx)
    _act(st, request_id, "verify_identity", IdentityVerification(method, st.who(), reference))


@app.command("approve")
def approve(ctx: typer.Context, request_id: str, reason: Reason = "") -> None:
    """Approve execution of a request."""
    from dsrflow.lifecycle import Decision

    st = state(ctx)
    _act(st, request_id, "approve", Decision(st.who(), reason))


@app.command("deny")
def deny(
    ctx: typer.Context,
    request_id: str,
    ground: Annotated[str, typer.Option(help="Legal ground, e.g. 'Art. 12(5)(b)'.")],
    note: Reason = "",
) -> None:
    """Deny a request, citing the ground."""
    from dsrflow.lifecycle import Denial

    st = state(ctx)
    _act(st, request_id, "deny", Denial(st.who(), ground, note))


@app.command("extend")
def extend(
    ctx: typer.Context,
    request_id: str,
    reason: Annotated[str, typer.Option(help="Why more time is needed (told to the subject).")],
    months: Annotated[int | None, typer.Option(help="GDPR: 1 or 2 further months.")] = None,
    days: Annotated[int | None, typer.Option(help="CCPA: up to 45 further days.")] = None,
) -> None:
    """Extend the deadline once, before the original due date."""
    from dsrflow.lifecycle import ExtensionRequest

    st = state(ctx)
    if (months is None) == (days is None):
        raise UserError("give one of --months (GDPR) or --days (CCPA)")
    unit, amount = ("months", months) if months is not None else ("days", days)
    assert amount is not None
    _act(st, request_id, "extend", ExtensionRequest(st.who(), reason, amount, unit))


@app.command("cancel")
def cancel(ctx: typer.Context, request_id: str, reason: Reason) -> None:
    """Cancel: before execution everything stops; after, no further store starts."""
    from dsrflow.lifecycle import Decision

    st = state(ctx)
    _act(st, request_id, "cancel", Decision(st.who(), reason))


@app.command("hold")
def hold(ctx: typer.Context, request_id: str, reason: Reason) -> None:
    """Put an erasure under legal hold (pauses erasure until released)."""
    from dsrflow.lifecycle import Decision

    st = state(ctx)
    _act(st, request_id, "hold", Decision(st.who(), reason))


@app.command("release")
def release(ctx: typer.Context, request_id: str, reason: Reason = "") -> None:
    """Release a legal hold."""
    from dsrflow.lifecycle import Decision

    st = state(ctx)
    _act(st, request_id, "release", Decision(st.who(), reason))


def _store(
    ctx: typer.Context, request_id: str, update: str, kind: str, **fields: str | None
) -> None:
    from dsrflow.lifecycle import StoreDecision

    st = state(ctx)
    store = fields.pop("store")
    assert store is not None
    _act(st, request_id, update, StoreDecision(store=store, actor=st.who(), kind=kind, **fields))  # type: ignore[arg-type]


@app.command("retry-store")
def retry_store(ctx: typer.Context, request_id: str, store: str, reason: Reason = "") -> None:
    """Run a failed store again, after fixing what made it fail."""
    _store(ctx, request_id, "retry_store", "retry", store=store, reason=reason)


@app.command("skip-store")
def skip_store(ctx: typer.Context, request_id: str, store: str, reason: Reason) -> None:
    """Move a stuck store on without acting in it (the reason is recorded)."""
    _store(ctx, request_id, "skip_store", "skip", store=store, reason=reason)


@app.command("exempt-store")
def exempt_store(
    ctx: typer.Context,
    request_id: str,
    store: str,
    ground: Annotated[str, typer.Option(help="Art. 17(3) ground, e.g. 'Art. 17(3)(b)'.")],
    until: Annotated[str | None, typer.Option(help="Retention end date, YYYY-MM-DD.")] = None,
    note: Reason = "",
) -> None:
    """Exempt a stuck store from erasure: its data is restricted, not erased."""
    _store(
        ctx,
        request_id,
        "exempt_store",
        "exempt",
        store=store,
        ground=ground,
        until=until,
        reason=note,
    )


@app.command("complete-task")
def complete_task(
    ctx: typer.Context,
    request_id: str,
    store: str,
    outcome: Annotated[str, typer.Option(help="done | not_found")],
    method: Annotated[
        str | None,
        typer.Option(
            help="Erasure done: how the data was disposed of "
            "(deleted, shredded, wiped, degaussed, crypto-erased, incinerated, destroyed)."
        ),
    ] = None,
    certificate_ref: Annotated[
        str | None,
        typer.Option(help="Erasure done: the disposal certificate's or ticket's reference."),
    ] = None,
    attachment_digest: Annotated[
        str | None,
        typer.Option(help="sha256:<hex> of the certificate file you keep (optional)."),
    ] = None,
) -> None:
    """Close a manual store's task (an erasure done is attested: method and certificate).

    The attestation is the store's verification in the evidence. No free text: nothing here
    may name the data subject.
    """
    _store(
        ctx,
        request_id,
        "complete_task",
        "complete",
        store=store,
        outcome=outcome,
        method=method,
        certificate_ref=certificate_ref,
        attachment_sha256=attachment_digest,
    )
