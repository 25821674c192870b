"""The staff pages: inbox, request, decisions, tasks, downloads, dashboard, intake.

One router (``router``) that ``dsrflow.console.web.install`` includes; each module holds one
area's routes, every one declaring its use case (``declared``/``posted``) and acting only
through ``dsrflow.service``. See docs/console.md, Staff pages.
"""

from __future__ import annotations

from fastapi import APIRouter

from dsrflow.console.pages import (
    dashboard,
    datamap,
    decide,
    downloads,
    inbox,
    intake,
    request,
    tasks,
)

router = APIRouter(include_in_schema=False)
# intake first: /console/requests/new must win over /console/requests/{request_id}
for _module in (intake, inbox, request, decide, downloads, tasks, dashboard, datamap):
    router.include_router(_module.router)

__all__ = ["router"]
