"""A finished request's files from the console, through ``DownloadResult`` (as the API's).

The package and the opening hold the subject's data (``download``: analysts, admins); the
evidence bundle and its certificate hold commitments only (``download.evidence``: auditors and
approvers too). Each download is checked, authorised and audited by the use case.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from dsrflow.api.context import context, declared
from dsrflow.api.routes.requests import RequestId
from dsrflow.api.routes.results import _download
from dsrflow.console.pages.common import Staff, html_errors

router = APIRouter(include_in_schema=False)


@router.get("/console/requests/{request_id}/package", **declared("download"))
@html_errors
def package(request: Request, request_id: RequestId, who: Staff) -> StreamingResponse:
    """The access or export package (decrypted; personal data; audited)."""
    return _download(context(request), who, request_id, "package")


@router.get("/console/requests/{request_id}/opening", **declared("download"))
@html_errors
def opening(request: Request, request_id: RequestId, who: Staff) -> StreamingResponse:
    """The subject's commitment opening (personal data; audited)."""
    return _download(context(request), who, request_id, "opening")


@router.get("/console/requests/{request_id}/bundle", **declared("download.evidence"))
@html_errors
def bundle(request: Request, request_id: RequestId, who: Staff) -> StreamingResponse:
    """The signed evidence bundle (no personal data; audited)."""
    return _download(context(request), who, request_id, "bundle")


@router.get("/console/requests/{request_id}/certificate", **declared("download.evidence"))
@html_errors
def certificate(request: Request, request_id: RequestId, who: Staff) -> StreamingResponse:
    """The evidence bundle's printable certificate (audited)."""
    return _download(context(request), who, request_id, "certificate")
