"""The Temporal side door, shut: on a real dev server, calls made from outside dsrflow.

The "outside" client below is what the Temporal UI and ``temporal`` CLI are: a plain client on
the same namespace, with the default (clear JSON) converter and no caller key.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import typer
from temporalio.client import Client, WorkflowUpdateFailedError

from dsrflow.assertions import CallerSigner
from dsrflow.domain import DsrInput, DsrResult, Identity, RequestStatus, RequestType
from dsrflow.lifecycle import Decision, IdentityVerification
from dsrflow.requests_client import RequestClient
from dsrflow.runtime import Runtime
from tests.fixtures.stack import run_cli

pytestmark = pytest.mark.e2e

SUBJECT = "carol.sidedoor@example.com"


def _input(kind: RequestType = RequestType.ERASURE) -> DsrInput:
    return DsrInput(
        request_id=f"t-side-{uuid.uuid4().hex[:8]}",
        request_type=kind,
        identities=[Identity("email", SUBJECT)],
        received_at=datetime.now(UTC),
    )


async def _outside(rt: Runtime, *, key: bytes | None = None) -> Client:
    """A client like the Temporal UI's: clear payloads, and no caller key (or a wrong one)."""
    signer = [CallerSigner(lambda: key)] if key is not None else []
    return await Client.connect(
        rt.settings.temporal_address, namespace=rt.settings.temporal.namespace,
        interceptors=signer,
    )  # fmt: skip


async def _submitted(rt: Runtime) -> tuple[RequestClient, str]:
    rc = RequestClient(await rt.client(), rt.settings.task_queue)
    inp = _input()
    sub = await rc.submit(inp)
    assert sub.ack.status == RequestStatus.AWAITING_VERIFICATION
    return rc, inp.request_id


def _audited(rt: Runtime, rid: str, action: str) -> list[str]:
    return [str(e.detail) for e in rt.ledger.audit_entries(rid) if e.action == action]


def _purgeable(rt: Runtime, rid: str) -> bool:
    later = datetime.now(UTC) + timedelta(seconds=5)
    return rid in {r.id for r in rt.ledger.purgeable(later)}


async def test_forged_actor_update_is_refused_and_audited(demo_stack: Runtime) -> None:
    rt = demo_stack
    rc, rid = await _submitted(rt)
    forged = IdentityVerification("email_link", "staff:dpo-jane")

    with pytest.raises(WorkflowUpdateFailedError) as no_key:
        await (
            (await _outside(rt)).get_workflow_handle(rid).execute_update("verify_identity", forged)
        )
    # The outside caller learns only the refusal's type (its message is encrypted like any
    # failure); the reason is in the request's history and the audit log.
    assert no_key.value.cause.type == "CallerRefused"
    with pytest.raises(WorkflowUpdateFailedError) as wrong_key:
        await (
            (await _outside(rt, key=os.urandom(32)))
            .get_workflow_handle(rid)
            .execute_update("approve", Decision("staff:dpo-jane", "looks fine"))
        )
    assert wrong_key.value.cause.type == "CallerRefused"

    view = await rc.status(rid)
    assert view.status == RequestStatus.AWAITING_VERIFICATION
    done = [a.action for a in view.actions]
    assert done == ["caller_refused", "caller_refused"]
    assert [a.action for a in rt.ledger.actions(rid)] == done
    refusals = _audited(rt, rid, "caller_refused")
    assert len(refusals) == 2
    assert "verify_identity claimed by staff:dpo-jane: no dsrflow caller assertion" in refusals[0]
    assert (
        "approve claimed by staff:dpo-jane: caller assertion signature is not valid"
        in (refusals[1])
    )

    # dsrflow's own client still acts, under its own (signed) actor.
    ack = await rc.act(rid, "verify_identity", IdentityVerification("email_link", "staff:ann"))
    assert ack.status == RequestStatus.AWAITING_APPROVAL


async def test_plaintext_start_is_rejected_and_audited(demo_stack: Runtime) -> None:
    rt = demo_stack
    inp = _input()
    outside = await _outside(rt)
    await outside.start_workflow(
        "DataSubjectRequest", inp, id=inp.request_id, task_queue=rt.settings.task_queue
    )
    mine = await rt.client()
    result = await mine.get_workflow_handle(inp.request_id, result_type=DsrResult).result()
    assert result.status == RequestStatus.REJECTED
    assert result.reason.startswith("start refused: no dsrflow caller assertion")

    row = rt.ledger.get_request(inp.request_id)
    assert row is not None and row.status == "rejected"
    assert _purgeable(rt, inp.request_id)
    assert len(_audited(rt, inp.request_id, "start_rejected")) == 1
    kept = [row.reason or "", *(str(a.detail) for a in rt.ledger.actions(inp.request_id))]
    kept += [str(e.detail) for e in rt.ledger.audit_entries(inp.request_id)]
    assert not [k for k in kept if "sidedoor" in k], "the plaintext input reached the ledger"
    assert not row.stores


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
async def test_undecodable_start_is_rejected_and_keeps_nothing(
    demo_stack: Runtime, signed: bool
) -> None:
    """A UI start whose JSON is not a request ends at once: no workflow task fails for ever."""
    rt = demo_stack
    rid = f"t-side-{uuid.uuid4().hex[:8]}"
    junk = {"request_type": "access", "email": SUBJECT, "note": "from the UI"}
    # Signed with dsrflow's own key, the start passes the caller check: what is refused then
    # is the input itself.
    outside = await _outside(rt, key=rt.caller_key() if signed else None)
    await outside.start_workflow(
        "DataSubjectRequest", junk, id=rid, task_queue=rt.settings.task_queue
    )
    mine = await rt.client()
    result = await mine.get_workflow_handle(rid, result_type=DsrResult).result()
    assert result.status == RequestStatus.REJECTED
    expected = (
        "start refused: its input is not a dsrflow request"
        if signed
        else "start refused: no dsrflow caller assertion"
    )
    assert result.reason.startswith(expected), result.reason

    row = rt.ledger.get_request(rid)
    assert row is not None and row.status == "rejected" and row.type == "access"
    assert _purgeable(rt, rid)
    assert len(_audited(rt, rid, "start_rejected")) == 1
    kept = [row.reason or "", *(str(a.detail) for a in rt.ledger.actions(rid))]
    kept += [str(e.detail) for e in rt.ledger.audit_entries(rid)]
    assert not [k for k in kept if "sidedoor" in k or "from the UI" in k], kept
    assert not row.stores


async def test_outside_cancel_ends_projected_and_purgeable(demo_stack: Runtime) -> None:
    from dsrflow.cli.progress import watch

    rt = demo_stack
    rc, rid = await _submitted(rt)
    await (await _outside(rt)).get_workflow_handle(rid).cancel()

    view = await watch(rc, rid)  # returns: the request ended
    assert view.status == RequestStatus.CANCELLED
    assert "cancelled_outside_dsrflow" in [a.action for a in view.actions]
    row = rt.ledger.get_request(rid)
    assert row is not None and row.status == "cancelled"
    assert _purgeable(rt, rid)
    assert len(_audited(rt, rid, "cancelled_outside_dsrflow")) == 1


async def test_outside_terminate_is_reconciled_and_purgeable(demo_stack: Runtime) -> None:
    from dsrflow.cli.progress import CLOSED_EXIT, watch

    rt = demo_stack
    rc, rid = await _submitted(rt)
    await (await _outside(rt)).get_workflow_handle(rid).terminate("from the UI")
    assert not _purgeable(rt, rid)

    with pytest.raises(typer.Exit) as ended:
        await watch(rc, rid)  # returns at once: nobody can move it on
    assert ended.value.exit_code == CLOSED_EXIT

    code, text = await run_cli(rt, "ledger", "reconcile")
    assert code == 0, text
    assert f"{rid}: ended_outside (terminated)" in text
    row = rt.ledger.get_request(rid)
    assert row is not None and row.status == "ended_outside"
    assert row.reason == "workflow terminated in Temporal, outside dsrflow"
    assert _purgeable(rt, rid)
    assert len(_audited(rt, rid, "ended_outside_dsrflow")) == 1

    code, text = await run_cli(rt, "ledger", "reconcile", rid)  # nothing left to do
    assert code == 0 and "0 reconciled" in text, text
