"""Requests: submit, list and filter, show (with the audit trail), manual tasks, metrics.

Thin, like ``dsrflow/cli/requests.py``: shape the input into the use case's command, call it
with the caller's principal, shape the answer. Routes that only read the ledger are plain
functions (FastAPI runs them in its thread pool); those that talk to Temporal are async.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import Field

from dsrflow.api.context import Caller, Context, declared
from dsrflow.api.schemas import (
    MetricsOut,
    ReportOut,
    RequestOut,
    RequiredReasonIn,
    RevealOut,
    SubmitIn,
    SubmitOut,
    TaskOut,
)
from dsrflow.errors import UserError

router = APIRouter(tags=["requests"])

RequestId = Annotated[
    str, Field(description="The request id: 1-80 letters, digits, '.', '_' or '-'.")
]


@router.post(
    "/requests",
    status_code=201,
    response_model=SubmitOut,
    responses={200: {"model": SubmitOut, "description": "This exact submission existed."}},
    summary="Submit a request (201; 200 when this exact submission exists already)",
    **declared("submit", temporal=True),
)
async def submit(body: SubmitIn, who: Caller, ctx: Context, response: Response) -> SubmitOut:
    """Start a request: one durable workflow whose id is the request id (a retry is safe)."""
    from dsrflow.service.intake import Submit, SubmitCommand

    cmd = SubmitCommand(
        body.type,
        [i.value for i in body.identities if i.kind == "email"],
        [f"{i.kind}={i.value}" for i in body.identities if i.kind != "email"],
        [f"{k}={v}" for k, v in body.changes.items()],
        body.request_id,
        body.case_ref,
        body.regulation,
        body.dry_run,
    )
    use_case = Submit(ctx.rt)
    inp = use_case.check(who, cmd)  # refused before anything is contacted
    done = await use_case.run(who, inp, await ctx.requests())
    if not done.created:
        response.status_code = 200
    ack = done.ack
    return SubmitOut(
        request_id=inp.request_id, type=str(inp.request_type), status=str(ack.status),
        received_at=ack.received_at, due_at=ack.due_at, created=done.created,
    )  # fmt: skip


@router.get(
    "/requests",
    response_model=list[RequestOut],
    summary="List requests from the ledger, most recent first",
    **declared("list"),
)
def list_requests(
    who: Caller,
    ctx: Context,
    status: Annotated[
        str | None, Query(description="A status (needs-attention, running...) or overdue.")
    ] = None,
    request_type: Annotated[
        str | None, Query(alias="type", description="access, erasure...")
    ] = None,
    regulation: Annotated[str | None, Query(description="gdpr or ccpa.")] = None,
    due_before: Annotated[str | None, Query(description="Due before this day, YYYY-MM-DD.")] = None,
    overdue: Annotated[bool | None, Query(description="true: open and late.")] = None,
    needs_attention: Annotated[bool, Query(description="Same as status=needs-attention.")] = False,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    subject: Annotated[
        str | None,
        Query(
            description="KIND=VALUE (email=..., phone=...): requests about this identifier, "
            "found through the keyed blind index; audited as a view naming the kind only.",
        ),
    ] = None,
) -> list[RequestOut]:
    """Requests filtered by every criterion given (never scans Temporal)."""
    from dsrflow.service.reads import ListRequests

    if needs_attention:
        if status is not None and status.replace("_", "-") != "needs-attention":
            raise UserError("needs_attention: cannot be combined with another status")
        status = "needs-attention"
    rows = ListRequests(ctx.rt).run(
        who, status, limit, request_type=request_type, regulation=regulation,
        due_before=due_before, overdue=overdue, subject=subject,
    )  # fmt: skip
    return [RequestOut.model_validate(r, from_attributes=True) for r in rows]


@router.get(
    "/requests/{request_id}",
    response_model=ReportOut,
    summary="One request: state, history, audit trail (an audited view)",
    **declared("view"),
)
def show(
    request_id: RequestId,
    who: Caller,
    ctx: Context,
    all_: Annotated[bool, Query(alias="all", description="Every audit entry, unfolded.")] = False,
) -> ReportOut:
    """The request as ``dsrflow request show`` shows it; views and decodes are folded."""
    from dsrflow.service.reads import ShowRequest

    report = ShowRequest(ctx.rt).run(who, request_id, everything=all_)
    return ReportOut.model_validate(
        {"request": report.request, "dry_run": report.dry_run, "actions": report.actions,
         "audit": report.audit},
        from_attributes=True,
    )  # fmt: skip


@router.post(
    "/requests/{request_id}/reveal",
    response_model=RevealOut,
    summary="Reveal the subject's identifiers, giving a reason (an audited decode)",
    **declared("reveal", temporal=True),
)
async def reveal(
    request_id: RequestId, body: RequiredReasonIn, who: Caller, ctx: Context
) -> RevealOut:
    """Decode the subject's identifiers from the request's history; ``show`` never has them."""
    from dsrflow.service.reveal import RevealSubject

    use_case = RevealSubject(ctx.rt)
    use_case.check(who, request_id, body.reason)  # refused before Temporal is contacted
    found = await use_case.run(who, request_id, reason=body.reason, rc=await ctx.requests())
    return RevealOut.model_validate(
        {"request_id": request_id, "identities": found}, from_attributes=True
    )


@router.get(
    "/tasks",
    response_model=list[TaskOut],
    summary="Manual tasks waiting for a person",
    **declared("tasks"),
)
def tasks(
    who: Caller,
    ctx: Context,
    all_: Annotated[bool, Query(alias="all", description="Closed tasks too.")] = False,
) -> list[TaskOut]:
    """Open tasks (all with ``all``), oldest first."""
    from dsrflow.service.reads import ListTasks

    return [
        TaskOut.model_validate(t, from_attributes=True)
        for t in ListTasks(ctx.rt).run(who, everything=all_)
    ]


@router.get(
    "/metrics",
    response_model=MetricsOut,
    summary="Request counts per status and type, and how many are overdue",
    **declared("metrics"),
)
def metrics(who: Caller, ctx: Context) -> MetricsOut:
    """Counts from the ledger (no personal data)."""
    from dsrflow.service.reads import ReadMetrics

    return MetricsOut.model_validate(ReadMetrics(ctx.rt).run(who), from_attributes=True)
