"""Helpers for the API tests: a runtime on a temporary SQLite ledger with Temporal unreachable,
tokens per role, and a finished request with real (encrypted) deliverables."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from dsrflow.adapters.sdk import Record
from dsrflow.domain import RequestStatus
from dsrflow.ledger.models import RequestRow
from dsrflow.runtime import Runtime
from dsrflow.service.principal import ROLES
from dsrflow.service.tokens import CreateToken
from dsrflow.settings import Settings
from tests.unit.service_kit import ADMIN, project

DEAD_TEMPORAL = "127.0.0.1:1"  # nothing listens on port 1: connecting fails at once
EXAMPLE_BUNDLE = Path(__file__).parents[2] / "docs" / "examples" / "evidence-bundle.zip"
SUBJECT_EMAIL = "wanda.subject@example.org"
SUBJECT_NAME = "Wanda Subjectova"
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def api_runtime(tmp: Path, **env: str) -> Runtime:
    """A runtime with its own state folder, no catalog file, and a Temporal nobody runs."""
    values = {
        "DSRFLOW_STATE_DIR": str(tmp / "state"),
        "DSRFLOW_CATALOG": str(tmp / "none.yaml"),
        "DSRFLOW_TASK_QUEUE": f"api-{uuid.uuid4().hex[:8]}",
        "DSRFLOW_TEMPORAL_ADDRESS": DEAD_TEMPORAL,
        **env,
    }
    return Runtime(Settings.load(values), values, migrate_ledger=True)


def token(rt: Runtime, *roles: str, actor: str | None = None) -> str:
    """A fresh token holding ``roles``."""
    made = CreateToken(rt).run(
        ADMIN, actor=actor or f"staff:{'-'.join(roles)}", roles=list(roles), expires_in="1d"
    )
    return made.token


def role_tokens(rt: Runtime) -> dict[str, str]:
    """One token per role."""
    return {role: token(rt, role) for role in sorted(ROLES)}


def auth(tok: str) -> dict[str, str]:
    """The header carrying ``tok``."""
    return {"Authorization": f"Bearer {tok}"}


def client(rt: Runtime, app: FastAPI | None = None, **kwargs: Any) -> TestClient:
    """A test client on the API (exceptions become the API's own answers, as in production);
    several clients on one ``app`` share its state (the sign-in limiter)."""
    return TestClient(app or rt.api_app(), raise_server_exceptions=False, **kwargs)


def finished_request(rt: Runtime, request_id: str) -> None:
    """A completed request whose artifacts hold the subject's data (encrypted at rest): an
    access package with their e-mail and name, their commitment opening, an evidence bundle."""
    project(rt, request_id, RequestStatus.COMPLETED)
    store = rt.artifacts
    store.stage_records(
        request_id, "shop",
        [Record("customers", {"email": SUBJECT_EMAIL, "full_name": SUBJECT_NAME})],
    )  # fmt: skip
    store.assemble_package(request_id, {"shop": 1}, {"request_id": request_id})
    store.save_opening(request_id, {"identifiers": [{"kind": "email", "value": SUBJECT_EMAIL}]})
    store.save_bundle(request_id, EXAMPLE_BUNDLE.read_bytes())
    with rt.ledger.session() as s:
        row = s.get(RequestRow, request_id)
        assert row is not None
        row.completed_at = row.received_at


def one_line_error(response: object) -> str:
    """The error of a response, checked to be one line of JSON with only ``error``."""
    body = json.loads(response.content)  # type: ignore[attr-defined]
    assert set(body) == {"error"}, body
    assert "\n" not in body["error"] and "Traceback" not in body["error"]
    return str(body["error"])
