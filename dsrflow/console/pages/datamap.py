"""The record of processing activities (Art. 30(1)) for auditors and admins.

The same model (``DataMap``) and the same HTML fragment (``render_body``) as ``dsrflow
datamap``: the console adds only its layout. No scan report here: the scan stores none, so the
page says how to get the marks (``dsrflow datamap --scan-report``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dsrflow.api.context import declared
from dsrflow.console.pages.common import Csrf, Staff, html_errors, render

router = APIRouter(include_in_schema=False)


@router.get("/console/datamap", response_class=HTMLResponse, **declared("datamap"))
@html_errors
def datamap(request: Request, who: Staff, csrf: Csrf) -> HTMLResponse:
    """The data map generated from the catalog (``DataMap``, audited)."""
    from dsrflow.catalog.datamap import render_body
    from dsrflow.service.datamap import DataMap

    model = DataMap(request.app.state.rt).run(who)
    return render(request, "staff/datamap.html", who, csrf, body=render_body(model))
