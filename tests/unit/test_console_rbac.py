"""The console's RBAC matrix, generated from the app's route table: every route under /console
and /privacy x every console role (each a real account, signed in through the real form) and
nobody gets through, 403, or a 303 to the sign-in page, exactly as ``DEFAULT_POLICY`` says for
the use case the route declares. Public routes (``public``) let everyone through. A route that
declares no use case (or one the policy does not know) fails here.

"Through" means neither 403 nor a redirect to sign in: the answer may still be 400, 404, 409
or 503 (no request exists, Temporal is not running), which the pages' own tests look at. A POST
carries the CSRF token its form would: the one on the same path's page when there is one (the
sign-in form's signed pair), else the session's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from dsrflow.api.context import USE_CASE
from dsrflow.api.hardening import is_page
from dsrflow.console.session import PUBLIC
from dsrflow.console.web import STATIC
from dsrflow.service.principal import DEFAULT_POLICY
from dsrflow.service.sessions import ResumeSession
from tests.unit.console_kit import (
    CSRF_FIELD,
    account,
    browser,
    console_runtime,
    session_csrf,
    sign_in,
)

CONSOLE_ROLES = ("admin", "analyst", "approver", "auditor", "engineer", "intake")
PATH_VALUES = {"request_id": "dsr-rbac", "store": "shop"}
_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?}")


@dataclass(frozen=True)
class PageRoute:
    """A page route as served: its full path, methods and declared use case."""

    path: str
    methods: tuple[str, ...]
    use_case: str | None


def page_routes(app: FastAPI) -> list[PageRoute]:
    """Every route under /console and /privacy (the static files' mount aside)."""
    routes = []
    for ctx in iter_route_contexts(app.routes):
        if not is_page(ctx.path) or ctx.path.startswith(STATIC):
            continue
        assert isinstance(ctx.original_route, APIRoute), f"{ctx.path}: not an API route"
        extra = ctx.openapi_extra or {}
        methods = tuple(sorted(m for m in ctx.methods if m != "HEAD"))
        routes.append(PageRoute(ctx.path, methods, extra.get(USE_CASE)))
    return routes


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    rt = console_runtime(tmp_path_factory.mktemp("console-rbac"))
    app = rt.api_app()
    for role in CONSOLE_ROLES:
        account(rt, f"rbac-{role}", role)
    clients = {role: browser(app) for role in CONSOLE_ROLES}
    yield {"rt": rt, "app": app, "clients": clients}
    rt.ledger.close()


def _signed_in(world: dict[str, Any], role: str) -> TestClient:
    """The role's client, signed in again when a route ended its session (sign-out)."""
    c: TestClient = world["clients"][role]
    if ResumeSession(world["rt"]).run(c.cookies.get("dsrflow_session")) is None:
        c.cookies.clear()
        assert sign_in(c, f"rbac-{role}").status_code == 303
    return c


def _path(route: PageRoute) -> str:
    return _PARAM.sub(lambda m: PATH_VALUES.get(m.group(1), "rbac"), route.path)


def call(world: dict[str, Any], route: PageRoute, method: str, role: str | None):
    c = _signed_in(world, role) if role else browser(world["app"])
    path = _path(route)
    if method == "GET":
        return c, c.get(path)
    csrf = "none"
    page = c.get(path)  # the form this POST comes from, when the same path shows one
    found = CSRF_FIELD.search(page.text) if page.status_code == 200 else None
    if found is None and path.startswith("/privacy/"):
        # A public form whose own page is not shown for this made-up token: the privacy
        # center's CSRF pair (cookie on /privacy, field on every form) comes from any of its forms.
        form = c.get("/privacy/request/access")
        found = CSRF_FIELD.search(form.text) if form.status_code == 200 else None
    if found:
        csrf = found.group(1)
    elif role:
        csrf = session_csrf(world["rt"], c)
    return c, c.request(method, path, data={"csrf": csrf})


def _to_sign_in(response) -> bool:
    return response.status_code == 303 and response.headers.get("location", "").startswith(
        "/console/login"
    )


def test_every_page_route_declares_a_use_case_the_policy_knows(world) -> None:
    routes = page_routes(world["app"])
    assert {"/console/login", "/console/logout", "/console/password"} <= {r.path for r in routes}
    for route in routes:
        assert route.use_case is not None, f"{route.path}: declare its use case with declared(...)"
        assert route.use_case == PUBLIC or route.use_case in DEFAULT_POLICY, (
            f"{route.path}: {route.use_case} is not in the policy"
        )


@pytest.mark.parametrize("role", [None, *CONSOLE_ROLES], ids=lambda r: r or "anonymous")
def test_console_rbac_matrix(world, role: str | None) -> None:
    wrong = []
    for route in page_routes(world["app"]):
        use_case = route.use_case or ""
        for method in route.methods:
            c, r = call(world, route, method, role)
            status = r.status_code
            if use_case == PUBLIC:
                expected, ok = "through", status != 403 and not _to_sign_in(r)
            elif role is None:
                expected, ok = "303 to sign in", _to_sign_in(r)
            elif role in DEFAULT_POLICY[use_case]:
                # A route may end the session itself (sign-out): then its redirect is fine.
                alive = ResumeSession(world["rt"]).run(c.cookies.get("dsrflow_session"))
                expected = "through"
                ok = status != 403 and not (_to_sign_in(r) and alive is not None)
            else:
                expected, ok = "403", status == 403 and "text/html" in r.headers["content-type"]
            if not ok:
                wrong.append(f"{method} {route.path} as {role or 'anonymous'}: {status} "
                             f"{r.headers.get('location', '')}, expected {expected}")  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_the_matrix_would_catch_a_page_that_forgets_its_role(world, tmp_path: Path) -> None:
    """A staff page that checks nobody lets anonymous through: the matrix says so."""
    rt = console_runtime(tmp_path)
    app = rt.api_app()

    @app.get("/console/leaky", openapi_extra={USE_CASE: "approve"})
    def leaky() -> dict[str, str]:
        return {}

    route = next(r for r in page_routes(app) if r.path == "/console/leaky")
    _, r = call({**world, "app": app}, route, "GET", None)
    assert r.status_code == 200 and not _to_sign_in(r)  # what the matrix reports as wrong


def test_an_undeclared_route_fails_the_declaration_check(world, tmp_path: Path) -> None:
    app = console_runtime(tmp_path).api_app()

    @app.get("/console/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    with pytest.raises(AssertionError, match="forgotten: declare its use case"):
        test_every_page_route_declares_a_use_case_the_policy_knows({**world, "app": app})
