"""People's actions on a request: thin adapters over ``dsrflow.service.decisions.Decide``.

The use case validates the input, checks the principal's roles, sends the Temporal update and
writes the audit entry; here only options are parsed and the answer printed.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dsrflow.cli.common import out, run, state
from dsrflow.cli.requests import app


def _act(ctx: typer.Context, update: str, request_id: str, **fields: Any) -> None:
    from dsrflow.service.decisions import Decide, DecisionInput

    st = state(ctx)
    decision = DecisionInput(update, request_id, **fields)
    use_case = Decide(st.runtime())
    principal = st.principal()
    use_case.check(principal, decision)  # refuse bad input before connecting to anything

    async def go() -> None:
        ack = await use_case.run(principal, decision)
        due = f", due {ack.due_at:%Y-%m-%d}" if ack.due_at else ""
        out.print(f"{request_id}: {ack.message} ({ack.status}{due})", markup=False)

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
    _act(ctx, "verify_identity", request_id, method=method, reference=reference)


@app.command("approve")
def approve(ctx: typer.Context, request_id: str, reason: Reason = "") -> None:
    """Approve execution of a request."""
    _act(ctx, "approve", request_id, reason=reason)


@app.command("deny")
def deny(
    ctx: typer.Context,
    request_id: str,
    ground: Annotated[str, typer.Option(help="Legal ground, e.g. 'Art. 12(5)(b)'.")],
    note: Reason = "",
) -> None:
    """Deny a request, citing the ground."""
    _act(ctx, "deny", request_id, ground=ground, reason=note)


@app.command("extend")
def extend(
    ctx: typer.Context,
    request_id: str,
    reason: Annotated[str, typer.Option(help="Why more time is needed (told to the subject).")],
    months: Annotated[int | None, typer.Option(help="GDPR: 1 or 2 further months.")] = None,
    days: Annotated[int | None, typer.Option(help="CCPA: up to 45 further days.")] = None,
) -> None:
    """Extend the deadline once, before the original due date."""
    _act(ctx, "extend", request_id, reason=reason, months=months, days=days)


@app.command("cancel")
def cancel(ctx: typer.Context, request_id: str, reason: Reason) -> None:
    """Cancel: before execution everything stops; after, no further store starts."""
    _act(ctx, "cancel", request_id, reason=reason)


@app.command("hold")
def hold(ctx: typer.Context, request_id: str, reason: Reason) -> None:
    """Put an erasure under legal hold (pauses erasure until released)."""
    _act(ctx, "hold", request_id, reason=reason)


@app.command("release")
def release(ctx: typer.Context, request_id: str, reason: Reason = "") -> None:
    """Release a legal hold."""
    _act(ctx, "release", request_id, reason=reason)


@app.command("retry-store")
def retry_store(ctx: typer.Context, request_id: str, store: str, reason: Reason = "") -> None:
    """Run a failed store again, after fixing what made it fail."""
    _act(ctx, "retry_store", request_id, store=store, reason=reason)


@app.command("skip-store")
def skip_store(ctx: typer.Context, request_id: str, store: str, reason: Reason) -> None:
    """Move a stuck store on without acting in it (the reason is recorded)."""
    _act(ctx, "skip_store", request_id, store=store, reason=reason)


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
    _act(ctx, "exempt_store", request_id, store=store, ground=ground, until=until, reason=note)


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
    _act(
        ctx, "complete_task", request_id, store=store, outcome=outcome, method=method,
        reference=certificate_ref, attachment_digest=attachment_digest,
    )  # fmt: skip
