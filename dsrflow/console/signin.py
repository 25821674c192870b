"""The sign-in pages: password sign-in, sign-out, the forced password change, single sign-on.

Login CSRF: the sign-in form is itself protected, so that nobody can sign a victim's browser in
to the attacker's account. Showing the form sets a random nonce in the cookie
``dsrflow_signin`` and puts its HMAC under a server key in the form's ``csrf`` field; a POST
must bring both, matching (a signed double submit: a cookie planted by a neighbouring site
without the server's key cannot produce the field).

Guessing: every failure counts against the client address (``FailureLimiter``, answered 429
when over ``ConsoleSettings.signin_failures_per_address`` per window) and against the account
(the ledger's lockout, ``service.signin``). Every refusal reads the same.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from dsrflow.api.context import declared
from dsrflow.api.hardening import FailureLimiter
from dsrflow.console import oidc
from dsrflow.console.errors import page_error
from dsrflow.console.session import (
    HOME,
    LOGIN,
    PASSWORD_PAGE,
    PUBLIC,
    SESSION_COOKIE,
    clear_cookie,
    clear_session_cookie,
    clock,
    csrf_token,
    read_cookie,
    require_csrf,
    resume,
    runtime,
    safe_next,
    set_cookie,
    set_session_cookie,
    signed_in,
)
from dsrflow.errors import UserError
from dsrflow.service.sessions import EndSession, console_key, mac
from dsrflow.service.signin import ChangePassword, PasswordSignIn, Refused
from dsrflow.service.subject_intake import client_network

router = APIRouter(include_in_schema=False)
router.include_router(oidc.router)
log = structlog.get_logger("dsrflow.console")

FORM_COOKIE = "dsrflow_signin"
SELF = "account.self"
_limiter_lock = threading.Lock()


def limiter(request: Request) -> FailureLimiter:
    """The app's per-address limiter of failed sign-ins (made on first use)."""
    state = request.app.state
    with _limiter_lock:
        found = getattr(state, "console_limiter", None)
        if not isinstance(found, FailureLimiter):
            console = runtime(request).settings.console
            found = FailureLimiter(
                console.signin_failures_per_address, console.signin_failure_window_s
            )
            state.console_limiter = found
    return found


def _client(request: Request) -> str:
    # An IPv6 client counts by its /64: anyone holds one, and a fresh address per guess would
    # make the per-address limit no limit at all.
    return "console-ip:" + client_network(request.client.host if request.client else "?")


def _form_page(
    request: Request, *, next_: str, error: str = "", username: str = "", status: int = 200
) -> Response:
    from dsrflow.console.web import templates

    nonce = secrets.token_urlsafe(24)
    console = runtime(request).settings.console
    response = templates.TemplateResponse(
        request,
        "signin.html",
        {
            "csrf": mac(console_key(runtime(request), "signin-form"), nonce),
            "next": next_,
            "error": error,
            "username": username,
            "oidc_name": console.oidc_name if console.oidc_issuer else "",
        },
        status_code=status,
    )
    set_cookie(response, request, FORM_COOKIE, nonce, max_age=3600)
    return response


@router.get(LOGIN, **declared(PUBLIC))
def login_page(
    request: Request, next: Annotated[str | None, Query(max_length=500)] = None
) -> Response:
    """The sign-in form (also when signed in: signing in again replaces the session)."""
    return _form_page(request, next_=safe_next(next))


@router.post(LOGIN, **declared(PUBLIC))
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=2048)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = HOME,
) -> Response:
    """Check the form's CSRF pair, the address's failure count, then the password."""
    target = safe_next(next)
    nonce = read_cookie(request, FORM_COOKIE) or ""
    expected = mac(console_key(runtime(request), "signin-form"), nonce) if nonce else ""
    if not expected or not hmac.compare_digest(csrf.encode(), expected.encode()):
        return page_error(request, 403, "the sign-in form expired; reload the page and try again")
    limit, client = limiter(request), _client(request)
    wait = limit.retry_after(client)
    if wait is not None:
        log.info("console sign-in rate limited", retry_after=wait)
        return page_error(
            request, 429, "too many failed sign-ins; try again later", {"Retry-After": str(wait)}
        )
    try:
        done = PasswordSignIn(runtime(request), clock(request)).run(username, password)
    except Refused as exc:
        limit.fail(client)
        log.info("console sign-in refused")  # the audit log says which account and why
        shown = username if len(username) <= 64 else ""
        return _form_page(request, next_=target, error=str(exc), username=shown, status=401)
    EndSession(runtime(request)).run(read_cookie(request, SESSION_COOKIE))  # the one it replaces
    where = PASSWORD_PAGE if done.must_change_password else target
    response = RedirectResponse(where, status_code=303)
    set_session_cookie(response, request, done.session_id)
    clear_cookie(response, request, FORM_COOKIE)
    return response


@router.post("/console/logout", **declared(SELF))
def logout(request: Request, _csrf: Annotated[None, Depends(require_csrf)]) -> Response:
    """End the session and forget its cookie."""
    signed_in(request, use_case=SELF, password_page=True)
    EndSession(runtime(request)).run(read_cookie(request, SESSION_COOKIE))
    response = RedirectResponse(LOGIN, status_code=303)
    clear_session_cookie(response, request)
    return response


def _password_page(request: Request, *, error: str = "", status: int = 200) -> Response:
    from dsrflow.console.web import templates

    found = resume(request)
    return templates.TemplateResponse(
        request,
        "signin_password.html",
        {
            "csrf": csrf_token(request),
            "error": error,
            "forced": bool(found and found.must_change_password),
            "min_length": runtime(request).settings.console.password_min_length,
        },
        status_code=status,
    )


@router.get(PASSWORD_PAGE, **declared(SELF))
def password_page(request: Request) -> Response:
    """The form to change one's password (the only page open after an admin's reset)."""
    signed_in(request, use_case=SELF, password_page=True)
    if (found := resume(request)) is not None and found.method != "password":
        return page_error(request, 409, "you sign in through your identity provider; "
                          "change your password there")  # fmt: skip
    return _password_page(request)


@router.post(PASSWORD_PAGE, **declared(SELF))
def change_password(
    request: Request,
    _csrf: Annotated[None, Depends(require_csrf)],
    current: Annotated[str, Form(max_length=2048)] = "",
    new: Annotated[str, Form(max_length=2048)] = "",
    again: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Replace the password; the person's other sessions end."""
    principal = signed_in(request, use_case=SELF, password_page=True)
    if new != again:
        return _password_page(request, error="new password: the two entries differ", status=400)
    try:
        ChangePassword(runtime(request)).run(
            principal, current=current, new=new, keep_session=read_cookie(request, SESSION_COOKIE)
        )
    except UserError as exc:
        return _password_page(request, error=str(exc), status=400)
    return RedirectResponse(HOME, status_code=303)
