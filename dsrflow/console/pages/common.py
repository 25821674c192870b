"""What the staff pages share: who is signed in, CSRF, rendering, HTML errors, Temporal.

Every page acts through a use case with the signed-in person's ``Principal``; what a page
offers (a button, a download link, the reveal form) is decided by the same policy the use case
enforces (``may``), so nobody is shown a control that would only be refused.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar, cast

import structlog
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dsrflow.api.context import context, declared
from dsrflow.api.errors import one_line, status_of
from dsrflow.console.errors import page_error
from dsrflow.console.session import console_principal, csrf_token, require_csrf
from dsrflow.console.web import templates
from dsrflow.errors import ConfigError, Unavailable, UserError
from dsrflow.service.principal import DEFAULT_POLICY, NotAllowed, Principal, authorise

if TYPE_CHECKING:
    from dsrflow.requests_client import RequestClient

log = structlog.get_logger("dsrflow.console")

Staff = Annotated[Principal, Depends(console_principal)]
"""The signed-in person (a redirect to sign in otherwise)."""
Csrf = Annotated[str, Depends(csrf_token)]
"""The token every form of the page carries in its hidden ``csrf`` field."""

TEMPORAL_DOWN = (
    "Temporal, which runs the requests' workflows, cannot be reached right now, so this "
    "action could not be carried out. Nothing was changed; try again in a moment."
)


def posted(use_case: str, *, temporal: bool = False) -> dict[str, Any]:
    """Route keyword arguments of a form POST: its declared use case, and the CSRF check."""
    kw = declared(use_case, temporal=temporal)
    kw["dependencies"] = [*kw["dependencies"], Depends(require_csrf)]
    return kw


def may(principal: Principal, use_case: str) -> bool:
    """Whether ``principal`` may perform ``use_case`` (the policy the use cases enforce)."""
    try:
        authorise(principal, use_case, DEFAULT_POLICY)
    except (NotAllowed, UserError):
        return False
    return True


def when(value: datetime | None) -> str:
    """A time as the pages print it (UTC, to the minute)."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def days_left(due: datetime | None, *, now: datetime | None = None) -> int | None:
    """Whole days until ``due`` (negative: overdue by that many), None without a due date."""
    if due is None:
        return None
    if due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    delta = due - (now or datetime.now(UTC))
    # Whole days elapsed each way; a deadline missed by an hour is already a day overdue.
    return delta.days if delta.total_seconds() >= 0 else -max(1, (-delta).days)


def label(value: str) -> str:
    """A status or type as people read it (``needs_attention`` -> ``needs attention``)."""
    return value.replace("_", " ")


templates.env.filters.setdefault("when", when)
templates.env.filters.setdefault("label", label)


def render(
    request: Request, name: str, who: Principal, csrf: str = "", status: int = 200, **values: Any
) -> HTMLResponse:
    """Render a staff page with what every page needs (the person, their rights, CSRF)."""
    page = {"me": who, "can": functools.partial(may, who), "csrf": csrf, **values}
    return templates.TemplateResponse(request, name, page, status_code=status)


def back_to(url: str) -> RedirectResponse:
    """After a form: show the page again (303, so a reload does not repeat the POST)."""
    return RedirectResponse(url, status_code=303)


def error_page(request: Request, status: int, message: str) -> Response:
    """The console's error page (``console.errors``): one line, never a trace."""
    return page_error(request, status, one_line(message))


def failure(request: Request, exc: Exception) -> Response:
    """The HTML answer to an error a page's use case raised (as ``api.errors``, in HTML)."""
    from temporalio.service import RPCError

    if isinstance(exc, (Unavailable, RPCError)):
        log.warning("console temporal unavailable", error=type(exc).__name__)
        return error_page(request, 503, TEMPORAL_DOWN)
    if isinstance(exc, ConfigError):
        log.error("console configuration error", error=one_line(str(exc))[:300])
        return error_page(request, 500, "the server's configuration has a problem; see its log")
    if isinstance(exc, UserError):
        return error_page(request, status_of(exc), str(exc))
    log.error("console internal error", error=type(exc).__name__)  # the type: text may quote data
    return error_page(request, 500, "internal error; see the server log")


P = ParamSpec("P")
R = TypeVar("R")


def html_errors(route: Callable[P, R]) -> Callable[P, R]:
    """Answer the route's errors with an HTML page (the app's handlers answer JSON).

    The route takes ``request: Request`` as a keyword (FastAPI calls routes with keywords).
    """
    if inspect.iscoroutinefunction(route):

        @functools.wraps(route)
        async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
            try:
                return await route(*args, **kwargs)
            except Exception as exc:  # every failure becomes a page
                return failure(cast(Request, kwargs["request"]), exc)

        return cast(Callable[P, R], run_async)

    @functools.wraps(route)
    def run(*args: P.args, **kwargs: P.kwargs) -> Any:
        try:
            return route(*args, **kwargs)
        except Exception as exc:  # every failure becomes a page
            return failure(cast(Request, kwargs["request"]), exc)

    return cast(Callable[P, R], run)


async def requests_client(request: Request) -> RequestClient:
    """The app's Temporal client (made once per event loop, as the API's routes use it).

    Raises:
        Unavailable: Temporal cannot be reached.
    """
    return await context(request).requests()


async def form_of(request: Request) -> dict[str, str]:
    """The posted form's text fields (a file field, never expected here, is dropped)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def whole(value: str, what: str, *, low: int, high: int) -> int:
    """A whole number typed in a query or form, checked here so that a bad one is an HTML page.

    Raises:
        UserError: Not a whole number between ``low`` and ``high``.
    """
    text = value.strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise UserError(f"{what}: a whole number between {low} and {high}")
    return int(text)


def blank(value: str | None) -> str | None:
    """None for an empty or blank form value (a form sends every field, filled or not)."""
    return value if value is not None and value.strip() else None
