"""Errors as the API answers them: a status and one line of JSON, ``{"error": "..."}``.

The application layer's errors keep their one-line messages (the same the CLI prints); their
kind picks the status. Nothing here ever returns a trace or an exception's internals: the
catch-all (``hardening.Hardening``) answers a generic 500 for anything unforeseen.
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dsrflow.errors import ConfigError, Conflict, NotFound, Unavailable, UserError
from dsrflow.service.principal import NotAllowed

log = structlog.get_logger("dsrflow.api")

STATUS_OF: tuple[tuple[type[UserError], int], ...] = (
    (NotAllowed, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Unavailable, 503),
    (ConfigError, 500),
    (UserError, 400),
)
"""The first matching kind wins (subclasses before their parents)."""


def one_line(message: str) -> str:
    """A message on one line (multi-line messages, such as a catalog's problems, are joined)."""
    return " ".join(message.split())


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The API's error response."""
    return JSONResponse({"error": one_line(message)}, status_code=status, headers=headers)


def status_of(exc: UserError) -> int:
    """The HTTP status for an application-layer error."""
    return next(code for kind, code in STATUS_OF if isinstance(exc, kind))


async def _user_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UserError)
    status = status_of(exc)
    if isinstance(exc, Unavailable):
        log.warning("api dependency unavailable", error=one_line(str(exc))[:300])
        return error(503, exc.public)
    if status == 500:
        # The server's own configuration (catalog, ledger revision): the operator's problem,
        # with file and line in the log; the caller learns only that it is not theirs.
        log.error("api configuration error", error=one_line(str(exc))[:300])
        return error(500, "the server's configuration has a problem; see the server log")
    return error(status, str(exc))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    if not problems:
        return error(400, "the request is not valid")
    first = problems[0]
    where = ".".join(str(p) for p in _named(first)) or "body"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    # The message only: pydantic's ``input`` would echo what was sent (maybe personal data).
    return error(400, f"{where}: {first.get('msg', 'not valid')}{more}")


_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


def _named(problem: Any) -> list[Any]:
    """Where a problem is, without naming what the caller sent as a key.

    Pydantic's location holds a mapping's keys and unknown field names as sent: an address
    typed where an identity kind belongs (``{"ann@example.org": ...}``) would be echoed.
    """
    loc = [p for p in problem.get("loc", ()) if p != "body"]
    if problem.get("type") == "extra_forbidden" and loc and not _FIELD.fullmatch(str(loc[-1])):
        loc[-1] = "[unknown field]"  # a plain misspelt name is worth naming; anything else not
    # ``(..., <key as sent>, "[key]")``: the key itself failed; name its place only.
    return [p for i, p in enumerate(loc) if not (i + 1 < len(loc) and loc[i + 1] == "[key]")]


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    return error(exc.status_code, detail, dict(exc.headers or {}))


async def _temporal(request: Request, exc: Exception) -> JSONResponse:
    log.warning("api temporal call failed", error=type(exc).__name__)
    return error(503, "Temporal did not answer; try again later")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    handlers: dict[Any, Any] = {
        UserError: _user_error,
        RequestValidationError: _validation,
        StarletteHTTPException: _http,
    }
    try:
        from temporalio.service import RPCError
    except ImportError:  # pragma: no cover - the API ships with the server extra
        pass
    else:
        handlers[RPCError] = _temporal
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)
