"""The RBAC matrix, generated from the app's route table: every route x every role (and no
token) gets 401, 403 or through, exactly as ``DEFAULT_POLICY`` says for the use case the route
declares. A route that declares no use case (or one the policy does not know) fails here.

"Through" means neither 401 nor 403: the answer may still be 404, 409 or 503 (Temporal is not
running in these tests), which the other API tests look at.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from dsrflow.api.app import OPENAPI, PREFIX
from dsrflow.api.context import USE_CASE
from dsrflow.api.hardening import is_page
from dsrflow.service.principal import DEFAULT_POLICY, ROLES
from dsrflow.settings import ApiSettings
from tests.unit.api_kit import (
    SUBJECT_EMAIL,
    SUBJECT_NAME,
    api_runtime,
    auth,
    client,
    finished_request,
    role_tokens,
)

RID = "dsr-rbac"
OPENDSR = ApiSettings().opendsr_prefix
PATH_VALUES = {"request_id": RID, "store": "shop", "batch_id": "batch-20260101-00000000"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    rt = api_runtime(tmp_path_factory.mktemp("rbac"))
    finished_request(rt, RID)  # so that downloads succeed for whoever may make them
    app = rt.api_app()
    yield {"rt": rt, "app": app, "tokens": role_tokens(rt), "doc": app.openapi()}
    rt.ledger.close()


@dataclass(frozen=True)
class ApiRoute:
    """A route as served: its full path, methods and declared use case."""

    path: str
    methods: tuple[str, ...]
    use_case: str | None


def api_routes(app: FastAPI) -> list[ApiRoute]:
    """Every route of the app's table (included routers flattened, as requests see them); the
    OpenAPI document is the only one that is not an API route."""
    routes, others = [], []
    for ctx in iter_route_contexts(app.routes):
        if ctx.path.startswith(OPENDSR + "/"):
            continue  # the OpenDSR protocol's own routes: test_opendsr_inbound.py's matrix
        if is_page(ctx.path):
            continue  # the console's and privacy center's pages: test_console_rbac.py's matrix
        if not isinstance(ctx.original_route, APIRoute):
            others.append(ctx.path)
            continue
        extra = ctx.openapi_extra or {}
        routes.append(ApiRoute(ctx.path, tuple(sorted(ctx.methods)), extra.get(USE_CASE)))
    assert others == [OPENAPI], others
    return routes


def example_body(doc: dict[str, Any], route: ApiRoute, method: str) -> Any:
    """The example the route's body schema carries in the OpenAPI document (None: no body)."""
    op = doc["paths"][route.path][method.lower()]
    if "requestBody" not in op:
        return None
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema["examples"][0]


def call(world: dict[str, Any], route: ApiRoute, method: str, role: str | None):
    path = route.path.format(**{k: v for k, v in PATH_VALUES.items() if f"{{{k}}}" in route.path})
    headers = auth(world["tokens"][role]) if role else {}
    body = example_body(world["doc"], route, method)
    c = client(world["rt"], world["app"])
    if body is None:
        return c.request(method, path, headers=headers)
    return c.request(method, path, headers=headers, json=body)


def test_every_route_declares_a_use_case_the_policy_knows(world) -> None:
    routes = api_routes(world["app"])
    assert len(routes) >= 20
    for route in routes:
        assert route.path.startswith(PREFIX + "/"), route.path
        use_case = route.use_case
        assert use_case is not None, f"{route.path}: declare its use case with declared(...)"
        assert use_case in DEFAULT_POLICY, f"{route.path}: {use_case} is not in the policy"


@pytest.mark.parametrize("role", [None, *sorted(ROLES)], ids=lambda r: r or "anonymous")
def test_rbac_matrix(world, role: str | None) -> None:
    wrong = []
    for route in api_routes(world["app"]):
        allowed_roles = DEFAULT_POLICY[route.use_case or ""]
        for method in route.methods:
            status = call(world, route, method, role).status_code
            if role is None:
                expected = "401"
                ok = status == 401
            elif role in allowed_roles:
                expected = "through"
                ok = status not in (401, 403)
            else:
                expected = "403"
                ok = status == 403
            if not ok:
                wrong.append(f"{method} {route.path} as {role or 'anonymous'}: {status}, "
                             f"expected {expected}")  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_the_matrix_would_catch_a_role_let_through(world) -> None:
    """The matrix fails if a use case is more open than the route's declaration says."""
    route = next(r for r in api_routes(world["app"]) if r.path.endswith("/{request_id}/package"))
    assert call(world, route, "GET", "auditor").status_code == 403
    assert call(world, route, "GET", "analyst").status_code == 200


def _texts(response) -> list[bytes]:
    """The body, and every member of it when it is a zip (compressed text hides needles)."""
    out = [response.content]
    if response.content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
            out += [zf.read(name) for name in zf.namelist()]
    return out


def _subject_data_in(world: dict[str, Any], role: str) -> list[str]:
    found = []
    needles = (SUBJECT_EMAIL.encode(), SUBJECT_NAME.encode(), b"wanda")
    for route in api_routes(world["app"]):
        for method in route.methods:
            response = call(world, route, method, role)
            for text in _texts(response):
                if any(n in text.lower() for n in needles):
                    found.append(f"{method} {route.path} ({response.status_code})")
    return found


@pytest.mark.parametrize("role", ["engineer", "auditor"])
def test_engineers_and_auditors_never_receive_subject_data(world, role: str) -> None:
    assert _subject_data_in(world, role) == []


def test_the_subject_data_probe_finds_it_where_it_is_allowed(world) -> None:
    found = _subject_data_in(world, "analyst")
    assert any("/package" in f for f in found) and any("/opening" in f for f in found)


def test_an_undeclared_route_fails_the_declaration_check(world, tmp_path: Path) -> None:
    app = api_runtime(tmp_path).api_app()

    @app.get(f"{PREFIX}/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    with pytest.raises(AssertionError, match="forgotten: declare its use case"):
        test_every_route_declares_a_use_case_the_policy_knows({**world, "app": app})
