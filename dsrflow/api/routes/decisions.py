"""People's decisions on a request: thin adapters over ``dsrflow.service.decisions.Decide``.

As in ``dsrflow/cli/actions.py``: the use case checks the input and the caller's roles before
anything is contacted, sends the Temporal update and writes the audit entry; a refusal by the
workflow (the request's state does not allow it) comes back as 409 with the workflow's reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter

from dsrflow.api.context import ApiContext, Caller, Context, declared
from dsrflow.api.routes.requests import RequestId
from dsrflow.api.schemas import (
    ActOut,
    CompleteTaskIn,
    DenyIn,
    ExemptIn,
    ExtendIn,
    ReasonIn,
    RequiredReasonIn,
    VerifyIdentityIn,
)
from dsrflow.service.principal import Principal

router = APIRouter(tags=["decisions"])


async def _act(
    ctx: ApiContext, who: Principal, request_id: str, update: str, **fields: Any
) -> ActOut:
    from dsrflow.service.decisions import Decide, DecisionInput

    decision = DecisionInput(update, request_id, **fields)
    use_case = Decide(ctx.rt)
    use_case.check(who, decision)  # bad input and missing roles are refused before Temporal
    ack = await use_case.run(who, decision, await ctx.requests())
    return ActOut(
        request_id=ack.request_id, status=str(ack.status), message=ack.message, due_at=ack.due_at
    )


_Route = TypeVar("_Route", bound=Callable[..., Any])


def _decision(path: str, update: str, summary: str) -> Callable[[_Route], _Route]:
    return router.post(
        f"/requests/{{request_id}}/{path}",
        response_model=ActOut,
        summary=summary,
        **declared(update, temporal=True),
    )


@_decision("verify-identity", "verify_identity", "Record that the requester's identity is verified")
async def verify_identity(
    request_id: RequestId, body: VerifyIdentityIn, who: Caller, ctx: Context
) -> ActOut:
    """The method (email_link, account_login, document_check...) and a ticket reference."""
    return await _act(ctx, who, request_id, "verify_identity", method=body.method,
                      reference=body.reference)  # fmt: skip


@_decision("approve", "approve", "Approve execution")
async def approve(request_id: RequestId, body: ReasonIn, who: Caller, ctx: Context) -> ActOut:
    """Approve the request (four eyes: the workflow may refuse its verifier)."""
    return await _act(ctx, who, request_id, "approve", reason=body.reason)


@_decision("deny", "deny", "Deny, citing the legal ground")
async def deny(request_id: RequestId, body: DenyIn, who: Caller, ctx: Context) -> ActOut:
    """Deny the request (the ground is told to the subject)."""
    return await _act(ctx, who, request_id, "deny", ground=body.ground, reason=body.note)


@_decision("extend", "extend", "Extend the deadline once")
async def extend(request_id: RequestId, body: ExtendIn, who: Caller, ctx: Context) -> ActOut:
    """GDPR: 1 or 2 months; CCPA: up to 45 days; before the original due date."""
    return await _act(ctx, who, request_id, "extend", reason=body.reason, months=body.months,
                      days=body.days)  # fmt: skip


@_decision("cancel", "cancel", "Cancel the request")
async def cancel(
    request_id: RequestId, body: RequiredReasonIn, who: Caller, ctx: Context
) -> ActOut:
    """Before execution everything stops; after, no further store starts."""
    return await _act(ctx, who, request_id, "cancel", reason=body.reason)


@_decision("hold", "hold", "Put an erasure under legal hold")
async def hold(request_id: RequestId, body: RequiredReasonIn, who: Caller, ctx: Context) -> ActOut:
    """Pauses erasure until released."""
    return await _act(ctx, who, request_id, "hold", reason=body.reason)


@_decision("release", "release", "Release a legal hold")
async def release(request_id: RequestId, body: ReasonIn, who: Caller, ctx: Context) -> ActOut:
    """Erasure goes on."""
    return await _act(ctx, who, request_id, "release", reason=body.reason)


@_decision("stores/{store}/retry", "retry_store", "Run a failed store again")
async def retry_store(
    request_id: RequestId, store: str, body: ReasonIn, who: Caller, ctx: Context
) -> ActOut:
    """After fixing what made it fail."""
    return await _act(ctx, who, request_id, "retry_store", store=store, reason=body.reason)


@_decision("stores/{store}/skip", "skip_store", "Move a stuck store on without acting in it")
async def skip_store(
    request_id: RequestId, store: str, body: RequiredReasonIn, who: Caller, ctx: Context
) -> ActOut:
    """The reason is recorded."""
    return await _act(ctx, who, request_id, "skip_store", store=store, reason=body.reason)


@_decision("stores/{store}/exempt", "exempt_store", "Exempt a store from erasure (Art. 17(3))")
async def exempt_store(
    request_id: RequestId, store: str, body: ExemptIn, who: Caller, ctx: Context
) -> ActOut:
    """Its data is restricted, not erased, until the retention end date."""
    return await _act(ctx, who, request_id, "exempt_store", store=store, ground=body.ground,
                      until=body.until, reason=body.note)  # fmt: skip


@_decision("stores/{store}/complete-task", "complete_task", "Close a manual store's task")
async def complete_task(
    request_id: RequestId, store: str, body: CompleteTaskIn, who: Caller, ctx: Context
) -> ActOut:
    """An erasure done is attested by method and certificate reference (no free text)."""
    return await _act(
        ctx, who, request_id, "complete_task", store=store, outcome=body.outcome,
        method=body.method, reference=body.certificate_ref,
        attachment_digest=body.attachment_digest,
    )  # fmt: skip
