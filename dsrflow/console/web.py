"""Mounting the console and the privacy center on the app: templates, static files, routers.

Every page is rendered from ``templates/`` with autoescaping; every asset (CSS, the little
progressive JavaScript) is served from ``static/`` by this process, so the pages work without
a CDN and under a CSP that allows only ``'self'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

if TYPE_CHECKING:
    from dsrflow.runtime import Runtime

HERE = Path(__file__).parent
CONSOLE = "/console"
"""Where the staff console lives."""
PRIVACY = "/privacy"
"""Where the public privacy center lives."""
STATIC = f"{CONSOLE}/static"

templates = Jinja2Templates(directory=HERE / "templates")  # autoescapes by default
"""The pages' templates (shared by every router of the console and the privacy center)."""


def install(app: FastAPI, rt: Runtime) -> None:
    """Add the console and the privacy center to ``app`` (the API's app, see ``Runtime``).

    Args:
        app: The app to extend; its state keeps the runtime as ``app.state.rt``.
        rt: The runtime the pages act through (its use cases).
    """
    from dsrflow.console import errors, pages, privacy, privacy_delivery, signin

    app.state.rt = rt
    app.mount(STATIC, StaticFiles(directory=HERE / "static"), name="console-static")
    for module in (signin, pages, privacy, privacy_delivery):
        app.include_router(module.router)
    errors.install(app)  # pages answer errors as HTML, and SignInRequired as a redirect
