"""What the routes share: the runtime, the caller's principal, each route's declared use case.

The caller's principal comes from its bearer token; Temporal is connected once per event loop.

Every route is declared with ``declared(use_case)``: the use case's name goes into the route's
OpenAPI operation (``x-dsrflow-use-case``), and the RBAC matrix test reads it back from the
route table to know which roles must get through. A route without one fails that test.
"""

from __future__ import annotations

import weakref
from asyncio import AbstractEventLoop, get_running_loop
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import structlog
from fastapi import Depends, HTTPException, Request, Security, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dsrflow.api.hardening import FailureLimiter
from dsrflow.errors import UserError
from dsrflow.service.principal import Principal
from dsrflow.service.subject_intake import client_network
from dsrflow.service.tokens import Authenticate, token_id_of

if TYPE_CHECKING:
    from dsrflow.requests_client import RequestClient
    from dsrflow.runtime import Runtime

USE_CASE = "x-dsrflow-use-case"
"""OpenAPI extension naming the use case (a key of the policy) a route performs."""
TEMPORAL = "x-dsrflow-temporal"
"""OpenAPI extension: the route needs Temporal (answers 503 while it cannot be reached)."""

log = structlog.get_logger("dsrflow.api")
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token from `dsrflow tokens create` (`Authorization: Bearer dsr_...`).",
)


def declared(use_case: str, *, temporal: bool = False) -> dict[str, Any]:
    """Route keyword arguments: its use case (see the module doc); unknown queries refused."""
    return {
        "openapi_extra": {USE_CASE: use_case, TEMPORAL: temporal},
        "dependencies": [Depends(known_query)],
    }


def known_query(request: Request) -> None:
    """Refuse a query parameter the operation does not take.

    A mistyped filter must not silently widen a list (``?staus=running`` would list everything).

    Raises:
        UserError: Naming the parameters the operation takes (never echoing what was sent).
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    names = {
        f.alias for f in get_flat_params(route.dependant) if isinstance(f.field_info, params.Query)
    }
    unknown = [k for k in request.query_params if k not in names]
    if unknown:
        takes = ", ".join(sorted(names)) or "none"
        raise UserError(f"unknown query parameter(s); this operation takes: {takes}")


@dataclass
class ApiContext:
    """The API's long-lived state: the runtime, the sign-in limiter, Temporal connections."""

    rt: Runtime
    limiter: FailureLimiter
    _clients: weakref.WeakKeyDictionary[AbstractEventLoop, RequestClient] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    async def requests(self) -> RequestClient:
        """A connected request client, made once per event loop (connecting is not free).

        Raises:
            Unavailable: Temporal cannot be reached (tried again on the next call).
        """
        from dsrflow.service.base import UseCase

        loop = get_running_loop()
        rc = self._clients.get(loop)
        if rc is None:
            rc = await UseCase(self.rt).requests()
            self._clients[loop] = rc
        return rc


def context(request: Request) -> ApiContext:
    """The app's context."""
    ctx = request.app.state.ctx
    assert isinstance(ctx, ApiContext)
    return ctx


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def principal(
    request: Request,
    cred: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Principal:
    """The caller, from its bearer token; 401 without a valid one, 429 after repeated failures.

    Raises:
        HTTPException: 401 or 429.
    """
    ctx = context(request)
    if cred is None:
        raise _unauthorised("a bearer token is required (dsrflow tokens create)")
    # An IPv6 client by its /64: every address of it is the same guesser.
    client = "ip:" + client_network(request.client.host if request.client else "?")
    tid = token_id_of(cred.credentials)
    token_key = f"token:{tid}" if tid else None
    wait = ctx.limiter.retry_after(client, token_key)
    if wait is not None:
        raise HTTPException(
            429, "too many failed sign-ins; try again later", headers={"Retry-After": str(wait)}
        )
    verdict = Authenticate(ctx.rt).run(cred.credentials)
    if verdict.principal is None:
        ctx.limiter.fail(client, token_key)
        # Never the token; its public id and why, so an operator can tell expiry from guessing.
        log.info("api sign-in refused", reason=verdict.refusal, token=verdict.token_id)
        if verdict.refusal in ("expired", "revoked"):
            raise _unauthorised(f"token {verdict.token_id}: {verdict.refusal}")
        raise _unauthorised("the bearer token is not valid")
    return verdict.principal


Caller = Annotated[Principal, Depends(principal)]
Context = Annotated[ApiContext, Depends(context)]
