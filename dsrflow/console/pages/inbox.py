"""The inbox: every request, the nearest deadline first, with filters, counts and paging.

Filters travel in the query string, except the subject's e-mail: it is personal data, so it is
posted (``/console/search``) and never lands in a URL, a browser history or an access log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from dsrflow.api.context import declared
from dsrflow.console.pages.common import (
    Csrf,
    Staff,
    blank,
    days_left,
    form_of,
    html_errors,
    posted,
    render,
    whole,
)
from dsrflow.service.inbox import InboxFilter, InboxPage, ReadInbox

router = APIRouter(include_in_schema=False)

PER_PAGE = 25
FIELDS = ("status", "type", "regulation", "overdue", "needs_attention", "case")


def _options() -> dict[str, Any]:
    from dsrflow.domain import RequestType
    from dsrflow.service.intake import REGULATIONS
    from dsrflow.service.reads import status_filters

    return {
        "statuses": status_filters(),
        "types": tuple(t.value for t in RequestType),
        "regulations": REGULATIONS,
    }


def _page(
    request: Request, who: Staff, csrf: str, inbox: InboxPage, chosen: dict[str, str],
    *, searched: bool = False,
) -> HTMLResponse:  # fmt: skip
    from urllib.parse import urlencode

    query = urlencode({k: v for k, v in chosen.items() if v})
    return render(
        request, "staff/inbox.html", who, csrf, inbox=inbox, chosen=chosen, query=query,
        searched=searched, days_left=days_left, **_options(),
    )  # fmt: skip


@router.get("/console/", response_class=HTMLResponse, **declared("list"))
@html_errors
def inbox(
    request: Request,
    who: Staff,
    csrf: Csrf,
    status: Annotated[str, Query()] = "",
    type_: Annotated[str, Query(alias="type")] = "",
    regulation: Annotated[str, Query()] = "",
    overdue: Annotated[str, Query()] = "",
    needs_attention: Annotated[str, Query()] = "",
    case: Annotated[str, Query(description="A case reference (exact).")] = "",
    page: Annotated[str, Query()] = "1",
) -> HTMLResponse:
    """The inbox (``ListRequests`` through ``ReadInbox``)."""
    f = InboxFilter(
        status=blank(status), request_type=blank(type_), regulation=blank(regulation),
        overdue=bool(blank(overdue)), needs_attention=bool(blank(needs_attention)),
        case_ref=blank(case),
    )  # fmt: skip
    number = whole(page, "page", low=1, high=100_000)
    found = ReadInbox(request.app.state.rt).run(who, f, page=number, per_page=PER_PAGE)
    typed = (status, type_, regulation, overdue, needs_attention, case)
    chosen = dict(zip(FIELDS, typed, strict=True))
    return _page(request, who, csrf, found, {k: v.strip() for k, v in chosen.items()})


@router.post("/console/search", response_class=HTMLResponse, **posted("list"))
@html_errors
async def search(request: Request, who: Staff, csrf: Csrf) -> HTMLResponse:
    """Requests about one e-mail address, found through the blind index (audited, kind only).

    The first page of results only: the address is not carried on to further pages.
    """
    import asyncio

    form = await form_of(request)
    email = blank(form.get("email"))
    if email is None:
        from dsrflow.errors import UserError

        raise UserError("subject e-mail: required")
    f = InboxFilter(subject=f"email={email}")
    rt = request.app.state.rt
    found = await asyncio.to_thread(ReadInbox(rt).run, who, f, page=1, per_page=PER_PAGE)
    return _page(request, who, csrf, found, dict.fromkeys(FIELDS, ""), searched=True)
