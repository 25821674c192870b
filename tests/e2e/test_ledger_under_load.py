"""Twenty clients at once: the ledger records only what the workflows did.

Each client submits an erasure, verifies the requester and approves it, concurrently with the
others, on a real dev server. Afterwards every request's ledger view (status, stores, people's
actions) must equal its workflow's own state, without running the reconciler first: no action
the workflow never accepted (a "phantom" verification or approval) may be in the ledger.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime

import pytest

from dsrflow.domain import DsrInput, DsrResult, Identity, RequestStatus, RequestType, StatusView
from dsrflow.lifecycle import Decision, IdentityVerification
from dsrflow.requests_client import ActionNotConfirmed, ActionRefused, RequestClient
from dsrflow.runtime import Runtime

pytestmark = pytest.mark.e2e

CLIENTS = int(os.environ.get("SD_CLIENTS", "20"))


async def _one(rt: Runtime, n: int) -> tuple[str, list[str]]:
    """One client's request; returns its id and the actions this client saw accepted."""
    rc = RequestClient(await rt.client(), rt.settings.task_queue)
    rid = f"t-load-{n:02d}-{uuid.uuid4().hex[:6]}"
    inp = DsrInput(
        request_id=rid,
        request_type=RequestType.ERASURE,
        identities=[Identity("email", f"load-{n}@example.com")],
        received_at=datetime.now(UTC),
    )
    await rc.submit(inp)
    accepted = []
    steps = (
        (
            "verify_identity",
            IdentityVerification("email_link", f"staff:verifier-{n}"),
            "identity_verified",
        ),
        ("approve", Decision(f"staff:approver-{n}", "load test"), "approved"),
    )
    for update, arg, action in steps:
        unconfirmed = False
        for _ in range(3):  # a timed-out attempt is retried, as a person would
            try:
                await rc.act(rid, update, arg)
            except ActionNotConfirmed:
                unconfirmed = True  # recorded only if the workflow accepted it
                continue
            except ActionRefused:
                if not unconfirmed:
                    raise
                # the unconfirmed attempt was accepted after all: the gate has moved on
            accepted.append(action)
            break
    return rid, accepted


def _ledger_view(rt: Runtime, rid: str) -> tuple[str, list[tuple], dict[str, str]]:
    row = rt.ledger.get_request(rid)
    assert row is not None, f"{rid} is not in the ledger"
    actions = [(a.seq, a.actor, a.action, a.store) for a in rt.ledger.actions(rid)]
    return row.status, actions, {st.store: st.status for st in row.stores}


def _workflow_view(view: StatusView) -> tuple[str, list[tuple], dict[str, str]]:
    actions = [(a.seq, a.actor, a.action, a.store) for a in view.actions]
    return str(view.status), actions, {o.store: str(o.status) for o in view.stores}


async def test_twenty_clients_leave_no_phantom_actions(demo_stack: Runtime) -> None:
    rt = demo_stack
    done = await asyncio.gather(*(_one(rt, n) for n in range(CLIENTS)))
    rc = RequestClient(await rt.client(), rt.settings.task_queue)
    for rid, accepted in done:
        result = await rc.handle(rid).result()
        assert isinstance(result, DsrResult) and result.status == RequestStatus.COMPLETED, rid
        view = await rc.status(rid)
        assert _ledger_view(rt, rid) == _workflow_view(view), rid
        people = [a.action for a in view.actions if a.actor.startswith("staff:")]
        assert people == ["identity_verified", "approved"] == accepted, rid
