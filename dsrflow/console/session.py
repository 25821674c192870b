"""Who is signed in to the console, and CSRF for its forms (the contract the pages rely on).

``console_principal`` is the dependency every staff page takes: the signed-in person's
``Principal``, or a redirect to the sign-in page. It also authorises them for the use case the
route declares (``declared(...)``), so a page cannot forget to: a role the policy does not
allow gets the 403 page. ``csrf_token`` gives the token a form carries in its hidden ``csrf``
field; ``require_csrf`` is the dependency of every staff POST.

The session lives in the ledger (``service.sessions``); the browser holds only its id, in the
cookie ``dsrflow_session`` (HttpOnly, SameSite=Strict, Path=/, Secure on HTTPS or when
``ConsoleSettings.secure_cookies`` says so). A session's CSRF token is an HMAC of its id under a
server key, so nothing more is stored and a token is worthless for any other session.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from dsrflow.api.context import USE_CASE
from dsrflow.service.principal import NotAllowed, Principal, authorise
from dsrflow.service.sessions import Clock, Resumed, ResumeSession, csrf_for, utc_now

if TYPE_CHECKING:
    from starlette.responses import Response

    from dsrflow.runtime import Runtime

SESSION_COOKIE = "dsrflow_session"
LOGIN = "/console/login"
PASSWORD_PAGE = "/console/password"  # noqa: S105 - a path, not a password
HOME = "/console/"
PUBLIC = "public"
"""The use case public routes declare (the privacy center, the sign-in pages)."""
_RESUMED = "dsrflow_console_session"


class SignInRequired(Exception):
    """No one is signed in (or the session ended): the page answers a redirect to sign in.

    Args:
        location: Where to send the browser (default: the sign-in page, back here after).
    """

    def __init__(self, location: str | None = None) -> None:
        super().__init__("sign in required")
        self.location = location


class CsrfRefused(NotAllowed):
    """A form without this session's CSRF token (403)."""

    def __init__(self) -> None:
        super().__init__(
            "this form expired or did not come from this console; reload the page and try again"
        )


def runtime(request: Request) -> Runtime:
    """The app's runtime (``web.install``)."""
    return request.app.state.rt  # type: ignore[no-any-return]


def clock(request: Request) -> Clock:
    """The console's time source: ``app.state.console_clock`` when a test set one."""
    return getattr(request.app.state, "console_clock", None) or utc_now


def declared_use_case(request: Request) -> str | None:
    """The use case the matched route declares (``declared(...)``), if any."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return None
    value = (route.openapi_extra or {}).get(USE_CASE)
    return value if isinstance(value, str) else None


def resume(request: Request) -> Resumed | None:
    """This request's live session (looked up once per request)."""
    if _RESUMED in request.scope:
        return request.scope[_RESUMED]  # type: ignore[no-any-return]
    found = ResumeSession(runtime(request), clock(request)).run(
        read_cookie(request, SESSION_COOKIE)
    )
    request.scope[_RESUMED] = found
    return found


def login_redirect(request: Request) -> str:
    """The sign-in page, with ``next`` naming this page (a local path, see ``safe_next``)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or safe_next(here) == HOME:
        return LOGIN
    return f"{LOGIN}?next={quote(here, safe='/')}"


def safe_next(value: str | None) -> str:
    """``value`` when it is a console path on this server, else the console's home page.

    Never an open redirect: no scheme, no host, no ``//`` or backslash tricks, no control
    characters; and only under ``/console/``.
    """
    if not value or len(value) > 500 or not value.startswith("/console"):
        return HOME
    if "//" in value or "\\" in value or any(ord(c) < 33 or ord(c) == 127 for c in value):
        return HOME
    path = value.split("?", 1)[0]
    if path not in ("/console", HOME) and not path.startswith("/console/"):
        return HOME
    if path.startswith((LOGIN, "/console/logout", "/console/oidc/")):
        return HOME
    return value


def signed_in(request: Request, *, use_case: str | None, password_page: bool = False) -> Principal:
    """The signed-in principal, authorised for ``use_case`` (when not None or public).

    Raises:
        SignInRequired: Nobody is signed in, or they must change their password first.
        NotAllowed: Their roles do not allow ``use_case``.
    """
    found = resume(request)
    if found is None:
        raise SignInRequired(login_redirect(request))
    if found.must_change_password and not password_page:
        raise SignInRequired(PASSWORD_PAGE)
    if use_case and use_case != PUBLIC:
        authorise(found.principal, use_case)
    return found.principal


def console_principal(request: Request) -> Principal:
    """The signed-in person's principal, allowed the route's declared use case.

    Raises:
        SignInRequired: Nobody is signed in (or they must change their password first).
        NotAllowed: Their roles do not allow the route's use case (the 403 page).
    """
    return signed_in(request, use_case=declared_use_case(request))


def csrf_token(request: Request) -> str:
    """The CSRF token a form of this session carries (hidden field ``csrf``).

    Raises:
        SignInRequired: No session cookie.
    """
    session_id = read_cookie(request, SESSION_COOKIE)
    if not session_id:
        raise SignInRequired(login_redirect(request))
    return csrf_for(runtime(request), session_id)


async def require_csrf(request: Request) -> None:
    """Refuse a POST whose ``csrf`` field does not match the session's token (403).

    Raises:
        SignInRequired: No session cookie.
        CsrfRefused: The field is missing or wrong.
    """
    session_id = read_cookie(request, SESSION_COOKIE)
    if not session_id:
        raise SignInRequired(LOGIN)
    form = await request.form()
    given = form.get("csrf")
    expected = await run_in_threadpool(csrf_for, runtime(request), session_id)
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfRefused


def secure(request: Request) -> bool:
    """Whether cookies get the Secure flag: on HTTPS, or when the settings say so."""
    return request.url.scheme == "https" or runtime(request).settings.console.secure_cookies


def cookie_name(request: Request, name: str) -> str:
    """The name ``name``'s cookie has on this request: ``__Host-`` prefixed when Secure.

    A ``__Host-`` cookie can only be set by this host, over HTTPS, for path ``/``, with no
    Domain: a sibling subdomain cannot plant one (cookie tossing: login CSRF with a harvested
    nonce, or swapping a victim into the attacker's session).
    """
    return f"__Host-{name}" if secure(request) else name


def read_cookie(request: Request, name: str) -> str | None:
    """The value of the console cookie ``name`` (by its name on this request), or None."""
    return request.cookies.get(cookie_name(request, name))


def set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    samesite: str = "strict",
) -> None:
    """Set a console cookie: HttpOnly, SameSite (Strict unless said), path ``/``.

    Secure and ``__Host-`` prefixed on HTTPS (``cookie_name``).
    """
    response.set_cookie(
        cookie_name(request, name), value, max_age=max_age, path="/", secure=secure(request),
        httponly=True, samesite=samesite,  # type: ignore[arg-type]
    )  # fmt: skip


def clear_cookie(response: Response, request: Request, name: str) -> None:
    """Make the browser forget the console cookie ``name``."""
    response.delete_cookie(
        cookie_name(request, name), path="/", secure=secure(request), httponly=True,
        samesite="strict",
    )  # fmt: skip


def set_session_cookie(response: Response, request: Request, session_id: str) -> None:
    """Hand the browser its session id (a browser-session cookie; the ledger ends it)."""
    set_cookie(response, request, SESSION_COOKIE, session_id)


def clear_session_cookie(response: Response, request: Request) -> None:
    """Make the browser forget its session id."""
    clear_cookie(response, request, SESSION_COOKIE)
