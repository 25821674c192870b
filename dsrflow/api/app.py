"""The HTTP API application: routes under ``/api/v1``, its OpenAPI document, errors, hardening.

The OpenDSR inbound routes (``dsrflow.api.opendsr``) are mounted beside it.

Built from a ``Runtime`` (``Runtime.api_app``); ``dsrflow serve`` and ``dsrflow dev`` run it
with uvicorn. See ``docs/api.md``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from dsrflow.api import errors, opendsr
from dsrflow.api.context import TEMPORAL, ApiContext
from dsrflow.api.hardening import FailureLimiter, Hardening
from dsrflow.api.routes import batches, decisions, requests, results
from dsrflow.api.schemas import ErrorBody
from dsrflow.observability.endpoints import OpsEndpoints

if TYPE_CHECKING:
    from dsrflow.runtime import Runtime

PREFIX = "/api/v1"
OPENAPI = f"{PREFIX}/openapi.json"
VERSION = "1"
DESCRIPTION = """The dsrflow HTTP API: the same use cases, rules and audit trail as the CLI.

Authenticate with `Authorization: Bearer <token>`; an admin makes tokens with
`dsrflow tokens create`. Every error is one line of JSON, `{"error": "..."}`.
"""

# Every operation may answer these (an error body each); POST adds 413 and 415, and an
# operation that needs Temporal adds 503.
COMMON_ERRORS = (400, 401, 403, 404, 409, 429, 500)


def create_api_app(rt: Runtime) -> FastAPI:
    """The API for ``rt``'s ledger, artifacts and Temporal.

    Opens the ledger and the key store now, in this thread: the routes run in a thread pool,
    and the runtime's parts are made on first use.
    """
    _ = rt.ledger, rt.keystore, rt.artifacts
    api = rt.settings.api
    app = FastAPI(
        title="dsrflow API",
        version=VERSION,
        description=DESCRIPTION,
        openapi_url=OPENAPI,
        docs_url=None,  # the interactive pages load scripts from a CDN: not under this CSP
        redoc_url=None,
    )
    app.state.ctx = ApiContext(rt, FailureLimiter(api.auth_failures, api.auth_failure_window_s))
    for module in (requests, decisions, results, batches):
        app.include_router(module.router, prefix=PREFIX)
    opendsr.install(app, api.opendsr_prefix)
    errors.install(app)
    # /healthz, /readyz, /metrics: before routing, inside the hardening (its headers apply).
    ready, metrics, token = rt.api_ops()
    app.add_middleware(OpsEndpoints, ready=ready, metrics=metrics, token=token)
    app.add_middleware(Hardening, max_body_bytes=api.max_body_bytes)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with the API's real error answers instead of its 422 default."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    for ops in doc.get("paths", {}).values():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            codes = list(COMMON_ERRORS)
            if method == "post":
                codes += [413, 415]
            if op.get(TEMPORAL):
                codes.append(503)
            for code in codes:
                responses.setdefault(
                    str(code),
                    {"description": HTTPStatus(code).phrase,
                     "content": {"application/json": {"schema": ref}}},
                )  # fmt: skip
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["ErrorBody"] = ErrorBody.model_json_schema()
    app.openapi_schema = doc
    return doc
