"""OpenDSR v2 inbound routes: dsrflow as a processor its controllers send requests to.

Mounted under ``DSRFLOW_API_OPENDSR_PREFIX`` (``/opendsr``), outside ``/api/v1``:
``GET /discovery`` (public), ``GET /processor-cert.pem`` (public), ``POST /requests``,
``GET|DELETE /requests/{id}``, and the same three under the legacy ``/opengdpr_requests``,
whose answers carry ``X-OpenGDPR-*`` signature headers. Every answer, errors included, is
signed with the processor key over its exact bytes. A controller authenticates with its bearer
token (``dsrflow opendsr controllers add``) and sees only its own requests. Errors use the
spec's shape, ``{"error": {"code", "title", "errors": [{"domain", "reason", "message"}]}}``.
See docs/api.md, "OpenDSR inbound".
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dsrflow.api.context import bearer, context, principal
from dsrflow.errors import NotFound, Unavailable, UserError
from dsrflow.keys.opendsr import ProcessorKey, processor_key
from dsrflow.messages.opendsr import API_VERSION, headers
from dsrflow.service.opendsr import (
    IDENTITY_TYPES,
    REQUEST_TYPES,
    SRID,
    CancelInbound,
    InboundRequest,
    InboundStatus,
    NotCancellable,
    ShowInbound,
    SubmitInbound,
    controller_of,
)
from dsrflow.service.principal import NotAllowed, Principal

Bearer = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]


class Identity(BaseModel):
    """One of the subject's identities, as the controller sends it."""

    model_config = ConfigDict(extra="ignore")
    identity_type: str = Field(max_length=40)
    identity_value: str = Field(min_length=1, max_length=320)
    identity_format: str = Field("raw", max_length=20)


class RequestIn(BaseModel):
    """An OpenDSR request body (fields this processor does not use are ignored)."""

    model_config = ConfigDict(extra="ignore")
    subject_request_id: str = Field(max_length=80)
    subject_request_type: str = Field(max_length=20)
    submitted_time: datetime
    subject_identities: list[Identity] = Field(min_length=1, max_length=20)
    status_callback_urls: list[str] = Field(default_factory=list, max_length=5)
    regulation: str = Field("gdpr", max_length=10)
    api_version: str | None = Field(None, max_length=10)


def _error(code: int, reason: str, message: str) -> dict[str, Any]:
    detail = {"domain": "OpenDSR", "reason": reason, "message": message}
    return {"error": {"code": code, "title": HTTPStatus(code).phrase, "errors": [detail]}}


def signed(request: Request, status: int, body: Any, *, legacy: bool = False) -> Response:
    """A JSON answer signed with the processor key over its exact bytes."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    key = _key(request)
    return Response(raw, status, headers=headers(key, raw, legacy=legacy),
                    media_type="application/json")  # fmt: skip


def _key(request: Request) -> ProcessorKey:
    """The processor key, read once per app (the file holds it at rest)."""
    key = getattr(request.app.state, "opendsr_key", None)
    if key is None:
        key = request.app.state.opendsr_key = processor_key(context(request).rt.settings)
    assert isinstance(key, ProcessorKey)
    return key


async def _guarded(
    request: Request, legacy: bool, run: Callable[[], Awaitable[tuple[int, Any]]]
) -> Response:
    """Run a route's work; every refusal becomes the spec's signed error (never a trace)."""
    try:
        status, body = await run()
    except HTTPException as exc:  # from the bearer check: 401, 429
        status, body = exc.status_code, _error(exc.status_code, "authentication", str(exc.detail))
    except NotAllowed as exc:
        status, body = 403, _error(403, "forbidden", str(exc))
    except NotFound as exc:
        status, body = 404, _error(404, "not_found", str(exc))
    except NotCancellable as exc:
        status, body = 405, _error(405, "not_cancellable", str(exc))
    except Unavailable as exc:
        status, body = 503, _error(503, "unavailable", exc.public)
    except UserError as exc:
        status, body = 400, _error(400, "invalid", str(exc).splitlines()[0])
    return signed(request, status, body, legacy=legacy)


def _caller(request: Request, cred: HTTPAuthorizationCredentials | None) -> Principal:
    who = principal(request, cred)
    controller_of(who)
    return who


def _status_body(who: Principal, st: InboundStatus) -> dict[str, Any]:
    return {
        "controller_id": controller_of(who),
        "expected_completion_time": st.expected_at.isoformat(),
        "subject_request_id": st.subject_request_id,
        "request_status": st.request_status,
        "api_version": API_VERSION,
    }


def _parse(raw: bytes, legacy: bool) -> InboundRequest:
    try:
        body = RequestIn.model_validate_json(raw)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "body"
        raise UserError(f"{where}: missing or not valid (see the discovery document)") from None
    if not SRID.fullmatch(body.subject_request_id):
        raise UserError("subject_request_id: 1-80 letters, digits, '.', '_' or '-'")
    if body.subject_request_type not in REQUEST_TYPES:
        raise UserError(f"subject_request_type: one of {', '.join(REQUEST_TYPES)}")
    ids = []
    for ident in body.subject_identities:
        if ident.identity_type not in IDENTITY_TYPES or ident.identity_format != "raw":
            raise UserError("subject_identities: supported are email and phone_number, raw")
        ids.append((ident.identity_type, ident.identity_value))
    return InboundRequest(
        body.subject_request_id, body.subject_request_type, ids, body.regulation,
        body.status_callback_urls, legacy,
    )  # fmt: skip


def router(legacy: bool) -> APIRouter:
    """The request routes (``/requests`` or the legacy ``/opengdpr_requests``)."""
    r = APIRouter(tags=["opendsr"])
    base = "/opengdpr_requests" if legacy else "/requests"

    @r.post(base, summary="Submit an OpenDSR request (controllers)")
    async def submit(request: Request, cred: Bearer) -> Response:
        async def run() -> tuple[int, Any]:
            who = _caller(request, cred)
            raw = await request.body()
            ctx = context(request)
            use_case = SubmitInbound(ctx.rt)
            # Checked before Temporal is contacted: a refusal needs no workflow.
            prepared = use_case.check(who, _parse(raw, legacy))
            st = await use_case.run(who, prepared, await ctx.requests())
            return 201, {
                "controller_id": controller_of(who),
                "expected_completion_time": st.expected_at.isoformat(),
                "received_time": st.received_at.isoformat(),
                "encoded_request": base64.b64encode(raw).decode(),
                "subject_request_id": st.subject_request_id,
            }

        return await _guarded(request, legacy, run)

    @r.get(base + "/{subject_request_id}", summary="An OpenDSR request's status (controllers)")
    async def show(request: Request, subject_request_id: str, cred: Bearer) -> Response:
        async def run() -> tuple[int, Any]:
            who = _caller(request, cred)
            return 200, _status_body(who, ShowInbound(context(request).rt).run(
                who, subject_request_id))  # fmt: skip

        return await _guarded(request, legacy, run)

    @r.delete(base + "/{subject_request_id}", summary="Cancel a pending request (controllers)")
    async def cancel(request: Request, subject_request_id: str, cred: Bearer) -> Response:
        async def run() -> tuple[int, Any]:
            who = _caller(request, cred)
            ctx = context(request)
            # Checked before Temporal is contacted: a refusal needs no workflow.
            use_case = CancelInbound(ctx.rt)
            use_case.check(who, subject_request_id)
            st = await use_case.run(who, subject_request_id, await ctx.requests())
            return 202, {
                "controller_id": controller_of(who),
                "subject_request_id": st.subject_request_id,
                "received_time": st.received_at.isoformat(),
                "api_version": API_VERSION,
            }

        return await _guarded(request, legacy, run)

    return r


def discovery_router() -> APIRouter:
    """``GET /discovery`` and the processor certificate (both public)."""
    r = APIRouter(tags=["opendsr"])

    @r.get("/discovery", summary="What this processor supports (public)")
    def discovery(request: Request) -> Response:
        base = str(request.url).removesuffix("/discovery")
        return signed(request, 200, {
            "api_version": API_VERSION,
            "supported_identities": [{"identity_type": t, "identity_format": "raw"}
                                     for t in IDENTITY_TYPES],
            "supported_subject_request_types": list(REQUEST_TYPES),
            "processor_certificate": f"{base}/processor-cert.pem",
        })  # fmt: skip

    @r.get("/processor-cert.pem", summary="The processor's signing certificate (public)")
    def certificate(request: Request) -> Response:
        pem = _key(request).certificate_pem
        return Response(pem, 200, media_type="application/x-pem-file")

    return r


def install(app: FastAPI, prefix: str) -> None:
    """Add the OpenDSR routes under ``prefix`` (outside the OpenAPI document of ``/api/v1``)."""
    for r in (discovery_router(), router(False), router(True)):
        app.include_router(r, prefix=prefix, include_in_schema=False)
