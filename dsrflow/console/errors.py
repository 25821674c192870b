"""Errors on the console's and privacy center's pages: an HTML page, not the API's JSON.

``install`` wraps the API's handlers (``dsrflow.api.errors``): on a page path
(``hardening.is_page``) the same status and the same one-line message are rendered with
``templates/error.html``; every other path keeps its JSON answer. ``SignInRequired`` becomes a
303 redirect to the sign-in page (or the password page after a reset).

Pages need nothing of their own: raising a ``UserError`` (``NotAllowed`` for 403,
``NotFound`` for 404...) or letting a use case raise one gives the right page. ``page_error``
renders one directly when a route wants to answer an error without raising.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from dsrflow.api.hardening import is_page
from dsrflow.console.session import (
    LOGIN,
    SESSION_COOKIE,
    SignInRequired,
    read_cookie,
    safe_next,
)
from dsrflow.errors import UserError

Handler = Callable[[Request, Exception], Awaitable[Response]]
KEPT_HEADERS = ("retry-after",)


def page_error(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """The error page: the status's name and a one-line message."""
    from dsrflow.console.web import templates

    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "title": _title(status), "message": " ".join(message.split())},
        status_code=status,
        headers=headers,
    )


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _as_page(previous: Handler) -> Handler:
    """``previous`` on API paths; on a page path, its status and message as the error page."""

    async def handle(request: Request, exc: Exception) -> Response:
        answer = await previous(request, exc)
        if not is_page(request.url.path):
            return answer
        try:
            message = str(json.loads(bytes(answer.body))["error"])
        except (ValueError, KeyError, TypeError):
            message = "the request could not be completed"
        kept = {k: v for k, v in answer.headers.items() if k.lower() in KEPT_HEADERS}
        return page_error(request, answer.status_code, message, kept or None)

    return handle


async def _sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    if (
        request.method == "GET"
        and request.headers.get("sec-fetch-site") == "cross-site"
        and read_cookie(request, SESSION_COOKIE) is None
    ):
        # A link from elsewhere (a staff e-mail, a chat): the browser withheld the SameSite=
        # Strict session cookie. One same-site hop to this very page brings it along; a
        # browser without a session then gets the redirect below on that second request.
        from dsrflow.console.web import templates

        here = safe_next(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return templates.TemplateResponse(request, "signin_continue.html", {"here": here})
    return RedirectResponse(exc.location or LOGIN, status_code=303)


def install(app: FastAPI) -> None:
    """Register the page handlers on ``app`` (after the API's, which they wrap)."""
    handlers: dict[Any, Any] = app.exception_handlers
    for kind in (UserError, RequestValidationError, StarletteHTTPException):
        previous = handlers.get(kind)
        if previous is not None:
            app.add_exception_handler(kind, _as_page(previous))
    app.add_exception_handler(SignInRequired, _sign_in)
