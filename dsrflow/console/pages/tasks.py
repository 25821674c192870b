"""The manual task queue: stores a person works by hand, and the form that closes each task.

To find the record the person needs the subject's identifiers: they are revealed per request,
with a reason, through ``RevealSubject`` (audited); the page answering that POST is the only
one that shows them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dsrflow.api.context import declared
from dsrflow.api.routes.requests import RequestId
from dsrflow.console.pages.common import (
    Csrf,
    Staff,
    form_of,
    html_errors,
    posted,
    render,
    requests_client,
)
from dsrflow.service.decisions import TASK_OUTCOMES
from dsrflow.service.principal import Principal

if TYPE_CHECKING:
    from dsrflow.domain import Identity

router = APIRouter(include_in_schema=False)


def _page(
    request: Request, who: Principal, csrf: str,
    revealed: dict[str, list[Identity]] | None = None,
) -> HTMLResponse:  # fmt: skip
    from dsrflow.service.reads import ListTasks

    tasks = ListTasks(request.app.state.rt).run(who)
    return render(
        request, "staff/tasks.html", who, csrf, tasks=tasks, revealed=revealed or {},
        outcomes=TASK_OUTCOMES,
    )  # fmt: skip


@router.get("/console/tasks", response_class=HTMLResponse, **declared("tasks"))
@html_errors
def tasks(request: Request, who: Staff, csrf: Csrf) -> HTMLResponse:
    """Open manual tasks, oldest first (``ListTasks``)."""
    return _page(request, who, csrf)


@router.post(
    "/console/tasks/{request_id}/reveal",
    response_class=HTMLResponse,
    **posted("reveal", temporal=True),
)
@html_errors
async def reveal(request: Request, request_id: RequestId, who: Staff, csrf: Csrf) -> HTMLResponse:
    """The task queue with one request's identifiers shown (``RevealSubject``: reason, audited)."""
    from dsrflow.service.reveal import RevealSubject

    form = await form_of(request)
    use_case = RevealSubject(request.app.state.rt)
    use_case.check(who, request_id, form.get("reason"))  # refused before Temporal
    found = await use_case.run(
        who, request_id, reason=form.get("reason"), rc=await requests_client(request)
    )
    return await asyncio.to_thread(_page, request, who, csrf, {request_id: found})
