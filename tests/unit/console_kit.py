"""Helpers for the console's sign-in tests: a runtime with cheap argon2 parameters, accounts,
signing in through the real form, a clock the tests move."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from dsrflow.runtime import Runtime
from dsrflow.service.accounts import CreateAccount
from dsrflow.service.sessions import csrf_for
from tests.unit.api_kit import api_runtime
from tests.unit.service_kit import ADMIN

PASSWORD = "correct horse battery"
# argon2id at its cheapest that still runs the real code (production: 64 MiB, 3 passes).
FAST_ARGON = {
    "DSRFLOW_CONSOLE_PASSWORD_TIME_COST": "1",
    "DSRFLOW_CONSOLE_PASSWORD_MEMORY_KIB": "256",
    "DSRFLOW_CONSOLE_PASSWORD_PARALLELISM": "1",
}
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def console_runtime(tmp: Path, **env: str) -> Runtime:
    """A runtime (as the API tests make one) with cheap password hashing."""
    return api_runtime(tmp, **{**FAST_ARGON, **env})


@dataclass
class Clock:
    """A clock the test moves (``app.state.console_clock``)."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def console_app(rt: Runtime, clock: Clock | None = None) -> FastAPI:
    """The app with the console; ``clock`` (when given) drives sessions and lockouts."""
    app = rt.api_app()
    if clock is not None:
        app.state.console_clock = clock
    return app


def browser(app: FastAPI, **kwargs: Any) -> TestClient:
    """A client that keeps cookies and does not follow redirects (the tests look at them)."""
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False, **kwargs)


def account(rt: Runtime, username: str, *roles: str, password: str = PASSWORD) -> None:
    """An account with a password of its own (no forced change)."""
    CreateAccount(rt).run(ADMIN, username=username, roles=list(roles), password=password)


def form_csrf(html: str) -> str:
    """The ``csrf`` field of a page's form."""
    m = CSRF_FIELD.search(html)
    assert m, "no csrf field on the page"
    return m.group(1)


def sign_in(c: TestClient, username: str, password: str = PASSWORD, next_: str | None = None):
    """Sign in through the real form (GET for its CSRF pair, then POST)."""
    page = c.get("/console/login")
    assert page.status_code == 200, page.text
    data = {"username": username, "password": password, "csrf": form_csrf(page.text)}
    if next_ is not None:
        data["next"] = next_
    return c.post("/console/login", data=data)


def session_csrf(rt: Runtime, c: TestClient) -> str:
    """The CSRF token of the client's session (what its forms carry)."""
    sid = c.cookies.get("dsrflow_session")
    assert sid, "not signed in"
    return csrf_for(rt, sid)
