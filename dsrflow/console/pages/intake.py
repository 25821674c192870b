"""Staff intake: a request taken by phone, letter or e-mail, submitted through ``Submit``.

The form's fields are the CLI's options (``dsrflow submit``): the use case checks them and
names the field at fault; the subject's identifiers are not written back into the form after
an error (the person types them again), so no page echoes them.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from dsrflow.api.context import declared
from dsrflow.console.pages.common import (
    Csrf,
    Staff,
    blank,
    failure,
    form_of,
    html_errors,
    posted,
    render,
    requests_client,
)
from dsrflow.errors import Unavailable, UserError
from dsrflow.service.principal import NotAllowed, Principal

router = APIRouter(include_in_schema=False)

KEPT = ("type", "regulation", "case_ref")
"""Fields shown again after an error (none holds personal data)."""


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _form(
    request: Request, who: Principal, csrf: str, *, values: dict[str, str] | None = None,
    problem: str | None = None, status: int = 200,
) -> HTMLResponse:  # fmt: skip
    from dsrflow.domain import RequestType
    from dsrflow.service.intake import REGULATIONS

    return render(
        request, "staff/request_new.html", who, csrf, status=status,
        types=[t.value for t in RequestType], regulations=REGULATIONS,
        values=values or {}, problem=problem,
    )  # fmt: skip


@router.get("/console/requests/new", response_class=HTMLResponse, **declared("submit"))
@html_errors
def new(request: Request, who: Staff, csrf: Csrf) -> HTMLResponse:
    """The intake form (only for those who may submit)."""
    from dsrflow.service.base import UseCase

    UseCase(request.app.state.rt).allow(who, "submit")  # no form for whom Submit would refuse
    return _form(request, who, csrf)


@router.post(
    "/console/requests/new", response_class=HTMLResponse, **posted("submit", temporal=True)
)
@html_errors
async def submit(request: Request, who: Staff, csrf: Csrf) -> Response:
    """Submit the request (``Submit``); the page after names its id and links to it."""
    from dsrflow.service.intake import Submit, SubmitCommand

    form = await form_of(request)
    cmd = SubmitCommand(
        form.get("type", ""), _lines(form.get("email")), _lines(form.get("identity")),
        _lines(form.get("changes")), None, blank(form.get("case_ref")),
        form.get("regulation") or "gdpr", form.get("dry_run") == "1",
    )  # fmt: skip
    use_case = Submit(request.app.state.rt)
    try:
        inp = use_case.check(who, cmd)  # refused before anything is contacted
    except UserError as exc:
        if isinstance(exc, (Unavailable, NotAllowed)):
            return failure(request, exc)
        kept = {k: form.get(k, "") for k in KEPT}
        return _form(request, who, csrf, values=kept, problem=str(exc), status=400)
    done = await use_case.run(who, inp, await requests_client(request))
    return render(
        request, "staff/submitted.html", who, csrf, request_id=inp.request_id,
        created=done.created, status_label=str(done.ack.status), due_at=done.ack.due_at,
    )  # fmt: skip
