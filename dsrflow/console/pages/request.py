"""One request's page: summary, live store progress, people's actions, audit trail, controls.

The page offers exactly the decisions the signed-in person's roles allow and the request's
state makes sensible (``offered``); the workflow still has the last word when one is sent. The
subject's identifiers are never shown unless asked for with a reason (``reveal``): the answer
to that POST is the only page that shows them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from dsrflow.api.context import declared
from dsrflow.api.routes.requests import RequestId
from dsrflow.console.pages.common import (
    Csrf,
    Staff,
    days_left,
    form_of,
    html_errors,
    label,
    may,
    posted,
    render,
    requests_client,
    when,
)
from dsrflow.service.principal import Principal

if TYPE_CHECKING:
    from dsrflow.domain import Identity
    from dsrflow.runtime import Runtime
    from dsrflow.service.intake_note import IntakeNote
    from dsrflow.service.reads import ActionLine, RequestReport, RequestSummary

router = APIRouter(include_in_schema=False)

FAILED = ("failed_needs_attention", "incomplete")
WAITING = "waiting_for_human"
PACKAGED = ("access", "export")
BEFORE_EXECUTION = ("received", "awaiting_verification", "awaiting_approval")
DONE_LABELS = {
    "verify_identity": "Identity verification recorded.",
    "approve": "Approved.",
    "deny": "Denied.",
    "extend": "Deadline extended.",
    "cancel": "Cancelled.",
    "hold": "Legal hold placed.",
    "release": "Legal hold released.",
    "retry_store": "Store retried.",
    "skip_store": "Store skipped.",
    "exempt_store": "Store exempted.",
    "complete_task": "Task completed.",
}
"""The notice after a decision the workflow accepted (``?done=``)."""


def terminal(status: str) -> bool:
    """Whether a request in ``status`` has ended (an unknown status counts as ended)."""
    from dsrflow.domain import RequestStatus

    try:
        return RequestStatus(status).terminal
    except ValueError:
        return True


def held(r: RequestSummary, actions: tuple[ActionLine, ...]) -> bool:
    """Whether the request is under legal hold (a hold can predate execution)."""
    holds = sum(a.action == "hold" for a in actions)
    return r.status == "on_hold" or holds > sum(a.action == "released" for a in actions)


def request_decisions(r: RequestSummary, actions: tuple[ActionLine, ...]) -> list[str]:
    """Decisions on the whole request that its state allows (the workflow's own rules)."""
    if terminal(r.status):
        return []
    out = []
    if r.status == "awaiting_verification":
        out.append("verify_identity")
    if r.status == "awaiting_approval":
        out.append("approve")
    if r.status in BEFORE_EXECUTION:
        out.append("deny")
    out += ["extend", "cancel"]
    on_hold = held(r, actions)
    if r.type == "erasure" and not on_hold:
        out.append("hold")
    if on_hold:
        out.append("release")
    return out


def store_decisions(r: RequestSummary, status: str) -> list[str]:
    """Decisions on one store in ``status`` that its state allows."""
    if terminal(r.status):
        return []
    out = []
    if status in FAILED:
        out.append("retry_store")
    if status in (*FAILED, WAITING):
        out.append("skip_store")
    if r.type == "erasure" and status in ("failed_needs_attention", WAITING):
        out.append("exempt_store")
    if status == WAITING:
        out.append("complete_task")
    return out


def offered(who: Principal, report: RequestReport) -> dict[str, Any]:
    """The controls the page shows: sensible in this state, and allowed to this person."""
    r = report.request
    ended = r.completed_at is not None
    return {
        "request": [d for d in request_decisions(r, report.actions) if may(who, d)],
        "stores": {
            s.store: [d for d in store_decisions(r, s.status) if may(who, d)] for s in r.stores
        },
        "reveal": may(who, "reveal"),
        # Access and export requests deliver a package; every request an evidence bundle.
        "package": ended and r.type in PACKAGED and may(who, "download"),
        "opening": ended and may(who, "download"),
        "evidence": ended and may(who, "download.evidence"),
    }


def progress(r: RequestSummary) -> dict[str, Any]:
    """What the page's script updates in place (ids, statuses and counts only)."""
    left = days_left(r.due_at) if r.completed_at is None else None
    return {
        "id": r.id,
        "status": r.status,
        "status_label": label(r.status),
        "overdue": r.overdue,
        "terminal": terminal(r.status),
        "due_at": when(r.due_at),
        "days_left": left,
        "completed_at": when(r.completed_at) if r.completed_at else None,
        "stores": [
            {"store": s.store, "adapter": s.adapter, "status": s.status,
             "status_label": label(s.status), "attempts": s.attempts,
             "matched": s.matched, "affected": s.affected, "residual": s.residual,
             "error_type": s.error_type}
            for s in r.stores
        ],
    }  # fmt: skip


def _page(
    request: Request, who: Principal, csrf: str, report: RequestReport, *,
    identities: list[Identity] | None = None, done: str = "", status: int = 200,
    note: IntakeNote | None = None,
) -> HTMLResponse:  # fmt: skip
    r = report.request
    return render(
        request, "staff/request.html", who, csrf, status=status, report=report, r=r,
        offered=offered(who, report), left=days_left(r.due_at), identities=identities,
        note=note, notice=DONE_LABELS.get(done), progress_url=f"/console/requests/{r.id}/progress",
        ended=terminal(r.status),
    )  # fmt: skip


@router.get("/console/requests/{request_id}", response_class=HTMLResponse, **declared("view"))
@html_errors
def show(
    request: Request,
    request_id: RequestId,
    who: Staff,
    csrf: Csrf,
    done: Annotated[str, Query()] = "",
) -> HTMLResponse:
    """The request page (``ShowRequest``: an audited view)."""
    from dsrflow.service.reads import ShowRequest

    report = ShowRequest(request.app.state.rt).run(who, request_id)
    return _page(request, who, csrf, report, done=done)


@router.get("/console/requests/{request_id}/progress", **declared("watch"))
def progress_json(request: Request, request_id: RequestId, who: Staff) -> JSONResponse:
    """The live status and store states the page's script polls (``ReadProgress``)."""
    from dsrflow.api.errors import error, status_of
    from dsrflow.errors import UserError
    from dsrflow.service.inbox import ReadProgress

    try:
        r = ReadProgress(request.app.state.rt).run(who, request_id)
    except UserError as exc:  # the script reads JSON: the API's error shape
        return error(status_of(exc), str(exc))
    return JSONResponse(progress(r))


@router.post(
    "/console/requests/{request_id}/reveal",
    response_class=HTMLResponse,
    **posted("reveal", temporal=True),
)
@html_errors
async def reveal(request: Request, request_id: RequestId, who: Staff, csrf: Csrf) -> HTMLResponse:
    """The request page with the subject's identifiers (``RevealSubject``: reason, audited)."""
    from dsrflow.service.reads import ShowRequest
    from dsrflow.service.reveal import RevealSubject

    form = await form_of(request)
    rt = request.app.state.rt
    use_case = RevealSubject(rt)
    use_case.check(who, request_id, form.get("reason"))  # refused before Temporal
    found = await use_case.run(
        who, request_id, reason=form.get("reason"), rc=await requests_client(request)
    )
    note = await asyncio.to_thread(_note, rt, who, request_id, form.get("reason"))
    report = await asyncio.to_thread(ShowRequest(rt).run, who, request_id)
    return _page(request, who, csrf, report, identities=found, note=note)


def _note(rt: Runtime, who: Principal, request_id: str, reason: str | None) -> IntakeNote | None:
    """The privacy-center note (name, details) opened with the same reason, if there is one.

    Opening it is its own audited ``reveal_note``; a request filed elsewhere has none.
    """
    from dsrflow.errors import NotFound
    from dsrflow.service.intake_note import RevealNote

    try:
        return RevealNote(rt).run(who, request_id, reason)
    except NotFound:
        return None
