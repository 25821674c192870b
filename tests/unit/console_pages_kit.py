"""Helpers for the console page tests: an app acting as a given role, requests in the ledger
as the workflow's projection puts them, a stand-in for Temporal, and an HTML checker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadConverter
from temporalio.converter import WorkflowSerializationContext as Ctx

from dsrflow.api.context import ApiContext
from dsrflow.console.session import console_principal, csrf_token, require_csrf
from dsrflow.crypto.codec import EncryptionCodec
from dsrflow.domain import (
    DsrInput,
    HumanAction,
    Identity,
    ProjectionEvent,
    RequestStatus,
    RequestType,
    StoreOutcome,
    StoreStatus,
)
from dsrflow.ledger.models import RequestRow
from dsrflow.lifecycle import SubmissionAck, UpdateAck
from dsrflow.requests_client import Submitted
from dsrflow.runtime import Runtime
from dsrflow.service.principal import Principal
from tests.unit.api_kit import api_runtime, client

CSRF = "csrf-test-token"
PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'"
NOW = datetime.now(UTC)
SUBJECT = "wanda.subject@example.org"


def role(name: str) -> Principal:
    """A console principal holding one role."""
    return Principal.of(f"staff:{name}-1", [name])


def app_as(rt: Runtime, who: Principal) -> TestClient:
    """A client on the full app whose console session is ``who`` (CSRF always matching)."""
    app = rt.api_app()

    async def csrf_ok() -> None:
        return None

    app.dependency_overrides[console_principal] = lambda: who
    app.dependency_overrides[csrf_token] = lambda: CSRF
    app.dependency_overrides[require_csrf] = csrf_ok
    return client(rt, app, follow_redirects=False)


def put(
    rt: Runtime, rid: str, *, status: RequestStatus = RequestStatus.RUNNING,
    kind: RequestType = RequestType.ERASURE, received_days_ago: float = 10,
    due_in_days: float | None = 20, overdue: bool = False, regulation: str = "gdpr",
    stores: dict[str, StoreStatus] | None = None, actions: list[HumanAction] | None = None,
    ended_days_ago: float | None = None,
) -> None:  # fmt: skip
    """Put a request in the ledger as the workflow's projection would."""
    states = stores or {"shop": StoreStatus.PENDING}
    rt.ledger.apply(
        ProjectionEvent(
            request_id=rid, request_type=kind, status=status,
            received_at=NOW - timedelta(days=received_days_ago),
            stores=[StoreOutcome(s, "sql", st) for s, st in states.items()],
            regulation=regulation, seq=1, overdue=overdue,
            due_at=None if due_in_days is None else NOW + timedelta(days=due_in_days),
            actions=actions or [],
        )
    )  # fmt: skip
    if ended_days_ago is not None:
        with rt.ledger.session() as s:
            row = s.get(RequestRow, rid)
            assert row is not None
            row.completed_at = NOW - timedelta(days=ended_days_ago)


@dataclass
class FakeTemporal:
    """Stands in for the request client: records updates and submissions, serves start
    inputs (encrypted as Temporal's history holds them) to the reveal."""

    rt: Runtime
    acts: list[tuple[str, str, Any]] = field(default_factory=list)
    submitted: list[DsrInput] = field(default_factory=list)
    history: dict[str, list[Payload]] = field(default_factory=dict)

    @property
    def client(self) -> FakeTemporal:
        return self

    async def act(self, request_id: str, update: str, arg: object) -> UpdateAck:
        self.acts.append((request_id, update, arg))
        return UpdateAck(request_id, RequestStatus.RUNNING, "accepted")

    async def submit(self, inp: DsrInput) -> Submitted:
        self.submitted.append(inp)
        ack = SubmissionAck(inp.request_id, RequestStatus.RECEIVED, inp.received_at,
                            inp.received_at + timedelta(days=30))  # fmt: skip
        return Submitted(ack, created=True)

    def started(self, rid: str, email: str = SUBJECT) -> None:
        """Give ``rid`` a start input about ``email``, encrypted under its data key."""
        inp = DsrInput(rid, RequestType.ERASURE, [Identity("email", email)], NOW)
        plain = PayloadConverter.default.to_payloads([inp])
        codec = EncryptionCodec(self.rt.keystore).with_context(Ctx("default", rid))
        self.history[rid] = asyncio.run(codec.encode(plain))

    def get_workflow_handle(self, rid: str) -> SimpleNamespace:
        payloads = self.history[rid]

        async def events(page_size: int = 1) -> AsyncIterator[Any]:
            attrs = SimpleNamespace(input=SimpleNamespace(payloads=payloads))
            yield SimpleNamespace(workflow_execution_started_event_attributes=attrs)

        return SimpleNamespace(fetch_history_events=events)


def fake_temporal(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> FakeTemporal:
    """Route the app's Temporal client to a ``FakeTemporal``."""
    fake = FakeTemporal(rt)

    async def requests(self: ApiContext) -> FakeTemporal:
        return fake

    monkeypatch.setattr(ApiContext, "requests", requests)
    return fake


def runtime(tmp: Path) -> Runtime:
    """The API tests' runtime (Temporal unreachable)."""
    return api_runtime(tmp)


class PageCheck(HTMLParser):
    """Collects what the CSP forbids: inline scripts, inline styles, event handler attributes;
    and the forms (action, hidden csrf)."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.forms: list[dict[str, str]] = []
        self._form: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name in a:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"<{tag} {name}=>")
        if tag == "style":
            self.problems.append("<style>")
        if tag == "script" and not a.get("src"):
            self.problems.append("inline <script>")
        if tag == "script" and not str(a.get("src", "")).startswith("/console/static/"):
            self.problems.append("foreign script")
        if tag == "form":
            self._form = {"action": a.get("action") or "", "method": a.get("method") or "get"}
            self.forms.append(self._form)
        if tag == "input" and self._form is not None and a.get("name") == "csrf":
            self._form["csrf"] = a.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def checked(response: Any) -> PageCheck:
    """Parse an HTML page; assert the page CSP header and no inline script or style, and that
    every POST form carries the CSRF field."""
    assert response.headers["content-security-policy"].startswith(PAGE_CSP), response.headers
    assert response.headers["content-type"].startswith("text/html")
    page = PageCheck()
    page.feed(response.text)
    assert page.problems == [], page.problems
    for form in page.forms:
        if form["method"].lower() == "post":
            assert form.get("csrf") == CSRF, form
    return page
