"""Downloads of a finished request, and the audit log (export for a DPO, verification).

Each download goes through ``DownloadResult.open``, like ``dsrflow request result``: checked,
authorised (the package and the opening need ``download``; the evidence bundle and its
certificate, which hold no personal data, ``download.evidence``) and audited. The file is
streamed; the package and the opening are decrypted chunk by chunk as they are sent, so no
plaintext copy is ever written to disk.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, StreamingResponse

from dsrflow.api.context import ApiContext, Caller, Context, declared
from dsrflow.api.routes.requests import RequestId
from dsrflow.api.schemas import AuditVerdictOut, AuditVerifyIn
from dsrflow.service.principal import Principal

router = APIRouter()

MEDIA = {
    "package": "application/zip",
    "opening": "application/json",
    "bundle": "application/zip",
    "certificate": "text/html",
}


EXPORT_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/x-ndjson": {}, "text/csv": {}},
        "description": "Every entry with its hashes, oldest first.",
    }
}


def _file(media: str) -> dict[int | str, dict[str, Any]]:
    schema = (
        {"type": "object"}
        if media == "application/json"
        else {"type": "string", "format": "binary"}
    )
    return {200: {"content": {media: {"schema": schema}},
                  "description": "The file, as an attachment."}}  # fmt: skip


def _download(ctx: ApiContext, who: Principal, request_id: str, which: str) -> StreamingResponse:
    from dsrflow.service.results import DownloadResult

    got = DownloadResult(ctx.rt).open(who, request_id, which)
    return StreamingResponse(
        got.chunks,
        media_type=MEDIA[which],
        headers={"Content-Disposition": f'attachment; filename="{got.name}"'},
    )


@router.get(
    "/requests/{request_id}/package",
    response_class=FileResponse,
    responses=_file(MEDIA["package"]),
    summary="The access package (decrypted; personal data; audited)",
    tags=["downloads"],
    **declared("download"),
)
def package(request_id: RequestId, who: Caller, ctx: Context) -> StreamingResponse:
    """The access or export package of a finished request."""
    return _download(ctx, who, request_id, "package")


@router.get(
    "/requests/{request_id}/opening",
    response_class=FileResponse,
    responses=_file(MEDIA["opening"]),
    summary="The subject's commitment opening (personal data; audited)",
    tags=["downloads"],
    **declared("download"),
)
def opening(request_id: RequestId, who: Caller, ctx: Context) -> StreamingResponse:
    """What the subject needs to check the evidence bundle's commitment to their identifier."""
    return _download(ctx, who, request_id, "opening")


@router.get(
    "/requests/{request_id}/bundle",
    response_class=FileResponse,
    responses=_file(MEDIA["bundle"]),
    summary="The signed evidence bundle (no personal data; audited)",
    tags=["downloads"],
    **declared("download.evidence"),
)
def bundle(request_id: RequestId, who: Caller, ctx: Context) -> StreamingResponse:
    """Verify it offline with ``dsrflow verify``."""
    return _download(ctx, who, request_id, "bundle")


@router.get(
    "/requests/{request_id}/certificate",
    response_class=FileResponse,
    responses=_file(MEDIA["certificate"]),
    summary="The evidence bundle's printable certificate (audited)",
    tags=["downloads"],
    **declared("download.evidence"),
)
def certificate(request_id: RequestId, who: Caller, ctx: Context) -> StreamingResponse:
    """The ``certificate.html`` inside the bundle, as an attachment."""
    return _download(ctx, who, request_id, "certificate")


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSE,
    summary="Export the audit log for a DPO (JSON Lines or CSV; audited)",
    tags=["audit"],
    **declared("audit.export"),
)
def audit_export(
    who: Caller,
    ctx: Context,
    since: Annotated[str | None, Query(description="From this day on, YYYY-MM-DD (UTC).")] = None,
    fmt: Annotated[str, Query(alias="format", description="jsonl or csv.")] = "jsonl",
) -> StreamingResponse:
    """Streams the entries as ``dsrflow audit export`` writes them."""
    from datetime import UTC, datetime

    from dsrflow.service import checks
    from dsrflow.service.auditlog import ExportAudit

    day = checks.day(since, "--since")
    start = datetime.fromisoformat(day).replace(tzinfo=UTC) if day else None
    checks.one_of(fmt, ("jsonl", "csv"), "--format")
    pieces = ExportAudit(ctx.rt).run(who, since=start, fmt=fmt)
    media = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    name = f"audit-log.{fmt}"
    return StreamingResponse(
        pieces, media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip


@router.post(
    "/audit/verify",
    response_model=AuditVerdictOut,
    summary="Check the audit chain, its anchors and optionally an outside checkpoint",
    tags=["audit"],
    **declared("audit.verify"),
)
def audit_verify(body: AuditVerifyIn, who: Caller, ctx: Context) -> AuditVerdictOut:
    """``ok`` false names the first edited, deleted, reordered or cut-off entry."""
    from dsrflow.service.auditlog import VerifyAudit

    verdict = VerifyAudit(ctx.rt).run(who, checkpoint_note=body.checkpoint)
    return AuditVerdictOut(
        ok=verdict.ok, entries=verdict.entries, head_seq=verdict.head_seq,
        anchors=verdict.anchors, anchored_seq=verdict.anchored_seq,
        checkpoint_size=verdict.checkpoint_size, problem=verdict.problem,
    )  # fmt: skip
