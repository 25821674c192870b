"""Helpers for the privacy-center page tests: the Temporal side faked at the use-case boundary.

``FakeWorkflows`` answers ``submit`` and ``act`` as a request client would, and reports each
state change to the real ledger the way the workflow's projection does; every data store (the
ledger, the key store, the outbox) is the real one on a temporary SQLite state folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from dsrflow.console import privacy
from dsrflow.domain import DsrInput, HumanAction, ProjectionEvent, RequestStatus
from dsrflow.errors import Unavailable
from dsrflow.lifecycle import IdentityVerification, SubmissionAck, UpdateAck
from dsrflow.requests_client import ActionRefused, Submitted
from dsrflow.runtime import Runtime
from tests.unit.api_kit import api_runtime, client

CANARY = "canary.subject+7q@example.org"
"""An address that must never appear in a log line, an audit entry, a page or the ledger."""
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class FakeWorkflows:
    """What Temporal and the request workflow would answer (no data store is faked)."""

    rt: Runtime
    submitted: list[DsrInput] = field(default_factory=list)
    actions: dict[str, list[HumanAction]] = field(default_factory=dict)
    seqs: dict[str, int] = field(default_factory=dict)
    down: bool = False
    """Answer as a Temporal that does not respond (an update's outcome unknown)."""

    async def submit(self, inp: DsrInput) -> Submitted:
        if self.down:
            raise Unavailable(f"request {inp.request_id}: Temporal did not answer")
        self.submitted.append(inp)
        due = inp.received_at + timedelta(days=30)
        self.actions[inp.request_id] = []
        self._project(inp, RequestStatus.AWAITING_VERIFICATION)
        ack = SubmissionAck(inp.request_id, RequestStatus.AWAITING_VERIFICATION,
                            inp.received_at, due)  # fmt: skip
        return Submitted(ack, created=True)

    async def act(self, request_id: str, update: str, arg: object) -> UpdateAck:
        if self.down:
            raise Unavailable(f"request {request_id}: Temporal did not answer")
        row = self.rt.ledger.get_request(request_id)
        if update != "verify_identity" or row is None or row.status != "awaiting_verification":
            raise ActionRefused(f"request {request_id} is not awaiting identity verification")
        assert isinstance(arg, IdentityVerification)
        acts = self.actions[request_id]
        detail = f"method={arg.method}" + (f" ref={arg.reference}" if arg.reference else "")
        acts.append(HumanAction(len(acts) + 1, datetime.now(UTC), arg.verifier,
                                "identity_verified", None, detail))  # fmt: skip
        inp = next(i for i in self.submitted if i.request_id == request_id)
        self._project(inp, RequestStatus.RUNNING)
        return UpdateAck(request_id, RequestStatus.RUNNING, "identity verified")

    def _project(self, inp: DsrInput, status: RequestStatus) -> None:
        seq = self.seqs.get(inp.request_id, 0) + 1
        self.seqs[inp.request_id] = seq
        self.rt.ledger.apply(
            ProjectionEvent(
                request_id=inp.request_id, request_type=inp.request_type, status=status,
                received_at=inp.received_at, stores=[], regulation=inp.regulation, seq=seq,
                due_at=inp.received_at + timedelta(days=30),
                actions=list(self.actions[inp.request_id]),
            )
        )  # fmt: skip


def center(tmp: Path, **env: str) -> tuple[Runtime, FakeWorkflows, TestClient]:
    """A runtime, its fake workflow side and a browser-like client on the whole app."""
    rt = api_runtime(tmp, **env)
    fake = FakeWorkflows(rt)
    app = rt.api_app()

    async def connect() -> FakeWorkflows:
        return fake

    app.dependency_overrides[privacy.clients] = lambda: connect
    return rt, fake, client(rt, app, follow_redirects=False)


def csrf_of(page: str) -> str:
    """The hidden CSRF field's value on a page."""
    found = CSRF.search(page)
    assert found, "the page has no csrf field"
    return found.group(1)


def file(web: TestClient, rtype: str = "access", *, email: str = CANARY, **fields: str) -> object:
    """Open the form like a browser, then send it; the POST's response."""
    page = web.get(f"/privacy/request/{rtype}")
    assert page.status_code == 200, page.text
    data = {"csrf": csrf_of(page.text), "email": email, "regulation": "gdpr", **fields}
    return web.post(f"/privacy/request/{rtype}", data=data)
