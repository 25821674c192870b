"""The public privacy center: a data subject files a request, confirms it by e-mail, follows it.

No sign-in: every route is declared ``public`` and acts through the privacy center's use cases
(``dsrflow/service/subject_intake.py``), which act as the service principal
``system:privacy-center``. Forms are protected by a double-submit cookie (anonymous visitors
have no session): the form page sets a random value in a SameSite=Strict cookie and in the
form's hidden ``csrf`` field, and a POST must carry both, equal. The e-mail link's GET only
shows a button, because mail scanners prefetch links; the POST behind it confirms.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dsrflow.api.context import USE_CASE
from dsrflow.console.web import PRIVACY, templates
from dsrflow.errors import Unavailable, UserError
from dsrflow.service.subject_intake import (
    EXPIRED,
    GONE,
    NOT_NEEDED,
    OK,
    PUBLIC_TYPES,
    REGISTERING,
    USED,
    ConfirmByLink,
    FieldProblem,
    FileRequest,
    IntakeForm,
    RateLimited,
)

if TYPE_CHECKING:
    from dsrflow.requests_client import RequestClient
    from dsrflow.runtime import Runtime

log = structlog.get_logger("dsrflow.privacy")


def _enabled(request: Request) -> None:
    """Refuse every privacy-center page while ``DSRFLOW_INTAKE_ENABLED`` is off (404)."""
    if not request.app.state.rt.settings.intake.enabled:
        raise HTTPException(404, "the privacy center is not enabled here")


router = APIRouter(prefix=PRIVACY, include_in_schema=False, dependencies=[Depends(_enabled)])
PUBLIC: dict[str, Any] = {"openapi_extra": {USE_CASE: "public"}}
CSRF_COOKIE = "dsrflow_privacy_csrf"
TLS_CSRF_COOKIE = "__Host-" + CSRF_COOKIE
"""The cookie's name over TLS: a ``__Host-`` cookie is one only this host can set (a sibling
subdomain planting a known value for the whole domain, same-site so SameSite lets it through,
would otherwise forge the double submit)."""
CSRF_FIELD = "csrf"

TYPES = {
    "access": ("See your data", "A copy of the personal data we hold about you, and how we "
               "use it (GDPR Article 15; CCPA right to know)."),
    "export": ("Take your data elsewhere", "Your data in a machine-readable file you can give "
               "to another service (GDPR Article 20, portability)."),
    "erasure": ("Delete your data", "Erasure of the personal data we hold about you (GDPR "
                "Article 17; CCPA right to delete)."),
    "restriction": ("Limit how we use your data", "We keep your data but stop using it while "
                    "a question about it is settled (GDPR Article 18)."),
}  # fmt: skip
"""Each request type the center offers: a title and one sentence (``PUBLIC_TYPES``)."""
REGULATIONS = {"gdpr": "EU, EEA or UK (GDPR)", "ccpa": "California (CCPA)"}
NOTICES = {
    "unknown": ("This link does not work", "The link is not one of ours, or it was copied "
                "incompletely. Please use the link in our e-mail exactly as it is."),
    EXPIRED: ("This link has expired", "The link was not used in time. If you still want to "
              "make the request, please file it again."),
    USED: ("This link has been used already", "The request was confirmed with it. The same "
           "link shows how your request is progressing."),
    GONE: ("No longer available", "This request has ended and its records have been deleted, "
           "as our retention rules require. There is nothing more to show."),
    REGISTERING: ("Your request is being registered", "We have your request but are still "
                  "recording it. Please try again in a minute."),
    "unavailable": ("Please try again shortly", "We cannot record this right now. Nothing has "
                    "been lost; please try again in a few minutes."),
    "csrf": ("Please reload the page", "This form has expired or was not sent from our page. "
             "Reload the page and send it again."),
    "limited": ("Please try again later", "We have received many requests from here just now. "
                "Please wait a while and send the form again."),
}  # fmt: skip
"""Pages that say why nothing was done: a title and one sentence each."""

RequestClients = Callable[[], Awaitable["RequestClient"]]


def clients(request: Request) -> RequestClients:
    """How routes reach Temporal: a connector called only when needed (tests replace it)."""
    from dsrflow.api.context import context

    return context(request).requests


Clients = Annotated[RequestClients, Depends(clients)]


def _rt(request: Request) -> Runtime:
    rt = request.app.state.rt
    return rt  # type: ignore[no-any-return]


def _page(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, f"privacy/{name}", values, status_code=status)


def _notice(request: Request, which: str, status: int) -> HTMLResponse:
    title, text = NOTICES[which]
    return _page(request, "notice.html", status, title=title, text=text, which=which)


def _tls(request: Request) -> bool:
    return request.url.scheme == "https"


def _cookie(request: Request) -> str:
    """The CSRF cookie's value (over TLS only the ``__Host-`` one counts)."""
    return request.cookies.get(TLS_CSRF_COOKIE if _tls(request) else CSRF_COOKIE, "")


def _csrf(request: Request) -> str:
    token = _cookie(request)
    return token if 30 <= len(token) <= 64 else secrets.token_urlsafe(32)


def _with_cookie(response: Response, request: Request, token: str) -> Response:
    if _tls(request):  # a __Host- cookie must be Secure, Path=/ and without Domain
        response.set_cookie(
            TLS_CSRF_COOKIE, token, path="/", httponly=True, samesite="strict", secure=True
        )
    else:
        response.set_cookie(CSRF_COOKIE, token, path=PRIVACY, httponly=True, samesite="strict")
    return response


async def _checked_form(request: Request) -> dict[str, str] | None:
    """The posted form's fields, or None when its CSRF field does not match the cookie."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    cookie = _cookie(request)
    sent = fields.get(CSRF_FIELD, "")
    if not cookie or not sent or not secrets.compare_digest(cookie.encode(), sent.encode()):
        log.info("privacy center form refused", reason="csrf")
        return None
    return fields


def _client(request: Request) -> str:
    """The client's address (the proxy's forwarded one when ``forwarded_allow_ips`` trusts it)."""
    return request.client.host if request.client else ""


def _day(at: datetime | None) -> str:
    return f"{at:%d %B %Y}" if at else ""


@router.get("/", response_class=HTMLResponse, **PUBLIC)
def index(request: Request) -> HTMLResponse:
    """Choose what to ask for."""
    choices = [(t, *TYPES[t]) for t in PUBLIC_TYPES]
    return _page(request, "index.html", choices=choices)


@router.get("/request/{rtype}", response_class=HTMLResponse, **PUBLIC)
def request_form(request: Request, rtype: str) -> Response:
    """The form for one kind of request."""
    if rtype not in TYPES:
        return _notice(request, "unknown", 404)
    return _form(request, rtype)


def _form(
    request: Request,
    rtype: str,
    *,
    error: str = "",
    field: str = "",
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    cfg = _rt(request).settings.intake
    token = _csrf(request)
    page = _page(
        request, "form.html", status, rtype=rtype, title=TYPES[rtype][0], about=TYPES[rtype][1],
        csrf=token, error=error, field=field, values=values or {}, regulations=REGULATIONS,
        limits={"email": cfg.email_max_chars, "name": cfg.name_max_chars,
                "details": cfg.details_max_chars},
    )  # fmt: skip
    return _with_cookie(page, request, token)


@router.post("/request/{rtype}", response_class=HTMLResponse, **PUBLIC)
async def file_request(request: Request, rtype: str, connect: Clients) -> Response:
    """File the request; on success, the same "check your inbox" page for everyone."""
    if rtype not in TYPES:
        return _notice(request, "unknown", 404)
    fields = await _checked_form(request)
    if fields is None:
        return _notice(request, "csrf", 403)
    form = IntakeForm(
        request_type=rtype,
        email=fields.get("email", ""),
        name=fields.get("name", ""),
        regulation=fields.get("regulation", "gdpr"),
        details=fields.get("details", ""),
        client=_client(request),
    )
    # What the subject typed goes back into the form, except the address (never echoed).
    kept = {"name": form.name, "details": form.details, "regulation": form.regulation}
    use_case = FileRequest(_rt(request))
    try:
        use_case.check(form)  # a field problem is shown even while Temporal is away
        await use_case.run(form, await connect())
    except FieldProblem as exc:
        return _form(request, rtype, error=str(exc), field=exc.field, values=kept, status=400)
    except RateLimited:
        return _notice(request, "limited", 429)
    except Unavailable:
        return _notice(request, "unavailable", 503)
    except UserError as exc:  # Temporal refused: nothing the subject can fix or should see
        log.warning("privacy center submission refused", error=type(exc).__name__)
        return _notice(request, "unavailable", 503)
    return RedirectResponse(f"{PRIVACY}/sent", status_code=303)


@router.get("/sent", response_class=HTMLResponse, **PUBLIC)
def sent(request: Request) -> HTMLResponse:
    """Check your inbox (the same page whatever the address had filed before)."""
    return _page(request, "sent.html")


@router.get("/verify/{token}", response_class=HTMLResponse, **PUBLIC)
def verify_page(request: Request, token: str) -> Response:
    """What the e-mail links to: a button that confirms (a GET changes nothing)."""
    looked = ConfirmByLink(_rt(request)).look(token)
    if looked.state == USED:
        return RedirectResponse(f"{PRIVACY}/status/{token}", status_code=303)
    if looked.state != OK:
        return _notice(request, looked.state, 404 if looked.state == "unknown" else 410)
    csrf = _csrf(request)
    page = _page(request, "verify.html", token=token, csrf=csrf, request_id=looked.request_id)
    return _with_cookie(page, request, csrf)


@router.post("/verify/{token}", response_class=HTMLResponse, **PUBLIC)
async def verify(request: Request, token: str, connect: Clients) -> Response:
    """Confirm the request: identity verified by ``email_link``, as the privacy center."""
    if await _checked_form(request) is None:
        return _notice(request, "csrf", 403)
    use_case = ConfirmByLink(_rt(request))
    try:
        # Temporal is needed only for a link that can confirm; the others get their page.
        rc = await connect() if use_case.look(token).state == OK else None
        done = await use_case.run(token, rc, client=_client(request))
    except RateLimited:
        return _notice(request, "limited", 429)
    except Unavailable:
        return _notice(request, "unavailable", 503)
    if done.state in (OK, NOT_NEEDED):
        return _page(request, "verified.html", token=token, state=done.state,
                     request_id=done.request_id)  # fmt: skip
    return _notice(request, done.state, 404 if done.state == "unknown" else 410)


@router.get("/status/{token}", response_class=HTMLResponse, **PUBLIC)
def status(request: Request, token: str) -> Response:
    """One request's progress, in plain words."""
    from dsrflow.service.subject_status import SubjectStatus

    view = SubjectStatus(_rt(request)).run(token)
    if view.state != OK:
        codes = {"unknown": 404, REGISTERING: 200}
        return _notice(request, view.state, codes.get(view.state, 410))
    from dsrflow.service.package_delivery import PackageOffer

    offer = PackageOffer(_rt(request)).run(token) if view.complete else None
    csrf = _csrf(request)
    page = _page(
        request, "status.html", view=view, title=TYPES.get(view.request_type, ("",))[0],
        received=_day(view.received_at), due=_day(view.due_at), verified=_day(view.verified_at),
        offer=offer, offer_expires=_day(offer.expires_at if offer else None), token=token,
        csrf=csrf,
    )  # fmt: skip
    return _with_cookie(page, request, csrf)
