"""Per-store outcomes and people's decisions, on the real workflow with real SQLite stores."""

from __future__ import annotations

import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from dsrflow.domain import DsrInput, Identity, RequestType
from dsrflow.errors import UserError
from dsrflow.lifecycle import Decision, Denial, StoreDecision
from tests.fixtures.lifecycle import (
    DEMO_SHOP,
    DEMO_SUPPORT,
    broken_store,
    fix_broken_store,
)

NO_GATES = {"erasure": {"identity_verification": False, "approval": False}}
APPROVAL = {"erasure": {"identity_verification": False, "approval": True}}
ARCHIVE = {
    "adapter": "sql",
    "connection": {"url": "sqlite:///stores/shop.db"},
    "exemption": {"ground": "Art. 17(3)(b)", "note": "tax archive", "until": "2031-12-31"},
    "collections": {"customers": {"identities": {"email": "email"}}},
}
ANALYTICS = {
    "adapter": "readonly-sql",
    "connection": {"url": "sqlite:///stores/shop.db"},
    "collections": {"customers": {"identities": {"email": "email"}}},
}
PAPER = {"adapter": "manual", "instructions": "Shred the paper file in cabinet 3"}


def outcomes(view) -> dict[str, str]:
    return {o.store: str(o.status) for o in view.stores}


async def test_every_store_outcome(harness) -> None:
    stores = {
        "shop": DEMO_SHOP, "support": DEMO_SUPPORT, "archive": ARCHIVE,
        "analytics": ANALYTICS, "crm": broken_store(), "paper": PAPER,
    }  # fmt: skip
    async with harness(stores=stores, policies=NO_GATES) as h:
        handle = await h.submit(email="dave@example.com")
        view = await h.until(
            handle,
            lambda v: (
                outcomes(v).get("crm") == "failed_needs_attention"
                and outcomes(v).get("paper") == "waiting_for_human"
                and outcomes(v).get("support") == "not_found"
            ),
            "crm to fail and paper to wait",
        )
        assert view.status == "needs_attention"
        assert outcomes(view) == {
            "shop": "done", "support": "not_found", "archive": "exempt",
            "analytics": "not_supported", "crm": "failed_needs_attention",
            "paper": "waiting_for_human",
        }  # fmt: skip
        crm = h.store(view, "crm")
        assert crm.error_type == "PermanentStoreError" and "'crm'" in crm.error
        assert h.store(view, "paper").note == "Shred the paper file in cabinet 3"
        # The ledger lists it for the privacy team, and the task is open.
        assert [r.id for r in h.rt.ledger.list_requests(status="needs_attention")] == [handle.id]
        tasks = await h.ledger_until(h.rt.ledger.tasks, "the paper task")
        assert [(t.request_id, t.store) for t in tasks] == [(handle.id, "paper")]

        with pytest.raises(UserError, match="skipping a store needs a reason"):
            await h.act(handle, "skip_store", StoreDecision("crm", "staff:ann", "skip"))
        with pytest.raises(UserError, match="store 'shop' is done; cannot skip it now"):
            await h.act(handle, "skip_store", StoreDecision("shop", "staff:ann", "skip", "x"))
        with pytest.raises(UserError, match="cannot complete it now"):
            await h.act(
                handle,
                "complete_task",
                StoreDecision("crm", "staff:ann", "complete", outcome="done"),
            )
        await h.act(
            handle, "skip_store", StoreDecision("crm", "staff:ann", "skip", "CRM retired last week")
        )
        shredded = StoreDecision(
            "paper", "staff:kim", "complete", outcome="done", method="shredded",
            certificate_ref="SHRED-7",
        )  # fmt: skip
        await h.act(handle, "complete_task", shredded)
        result = await handle.result()

    assert result.status == "completed"
    final = {o.store: o for o in result.stores}
    assert final["crm"].status == "skipped" and final["crm"].note == "CRM retired last week"
    assert final["crm"].actor == "staff:ann"
    assert final["paper"].status == "done" and final["paper"].actor == "staff:kim"
    assert final["archive"].exemption.ground == "Art. 17(3)(b)"
    assert final["archive"].exemption.until == "2031-12-31"
    assert final["shop"].actor == "workload:dsrflow-worker"
    assert final["shop"].verification.residual == 0
    assert final["analytics"].error_type == "NotSupported"
    history = [(a.actor, a.action, a.store) for a in h.rt.ledger.actions(handle.id)]
    assert history == [
        ("staff:ann", "store_skip", "crm"),
        ("staff:kim", "store_complete", "paper"),
    ]
    [task] = h.rt.ledger.tasks(open_only=False)
    assert task.closed_at is not None and task.outcome == "done" and task.closed_by == "staff:kim"
    # Nothing was dropped: the evidence has a record for every store in scope.
    with zipfile.ZipFile(result.artifact.path) as zf:
        names = {
            n.removeprefix("records/").removesuffix(".json")
            for n in zf.namelist()
            if n.startswith("records/")
        }
        inventory = json.loads(zf.read("inventory.json"))
    assert names == set(stores) == {s["store"] for s in inventory["stores"]}


def erase_calls(history) -> list[str]:
    """Stores each erase_store activity was scheduled for (test server: payloads in clear)."""
    stores = []
    for e in history.events:
        attrs = e.activity_task_scheduled_event_attributes
        if (
            e.HasField("activity_task_scheduled_event_attributes")
            and attrs.activity_type.name == "erase_store"
        ):
            stores.append(json.loads(attrs.input.payloads[0].data)["store"])
    return sorted(stores)


async def test_retry_store_after_a_fix_does_not_rerun_done_stores(harness) -> None:
    stores = {"shop": DEMO_SHOP, "support": DEMO_SUPPORT, "crm": broken_store()}
    async with harness(stores=stores, policies=NO_GATES) as h:
        handle = await h.submit(email="bob@example.com")
        view = await h.until(
            handle,
            lambda v: v.status == "needs_attention" and outcomes(v)["shop"] == "done",
            "crm to fail after shop is done",
        )
        with pytest.raises(UserError, match="store 'shop' is done; cannot retry it now"):
            await h.act(handle, "retry_store", StoreDecision("shop", "staff:ann", "retry"))
        shop_receipt = h.store(view, "shop").receipt
        fix_broken_store(h.demo_dir)
        await h.act(
            handle, "retry_store", StoreDecision("crm", "staff:ann", "retry", "created the DB")
        )
        result = await handle.result()
    assert result.status == "completed"
    final = {o.store: o for o in result.stores}
    assert final["crm"].status == "done" and final["crm"].receipt.affected == 1
    assert final["crm"].attempts == 2
    assert final["shop"].receipt == shop_receipt  # untouched by the retry
    assert erase_calls(await handle.fetch_history()) == ["crm", "crm", "shop", "support"]


async def test_exempt_a_stuck_store(harness) -> None:
    async with harness(stores={"shop": DEMO_SHOP, "crm": broken_store()}, policies=NO_GATES) as h:
        handle = await h.submit(email="bob@example.com")
        await h.until(handle, lambda v: v.status == "needs_attention", "needs attention")
        with pytest.raises(UserError, match=r"cites its Art\. 17"):
            await h.act(
                handle,
                "exempt_store",
                StoreDecision("crm", "staff:ann", "exempt", ground="because"),
            )
        exempt = StoreDecision(
            "crm",
            "staff:lee",
            "exempt",
            "litigation file",
            ground="Art. 17(3)(e)",
            until="2028-06-30",
        )
        await h.act(handle, "exempt_store", exempt)
        result = await handle.result()
    crm = next(o for o in result.stores if o.store == "crm")
    assert crm.status == "exempt" and crm.actor == "staff:lee"
    assert (crm.exemption.ground, crm.exemption.until) == ("Art. 17(3)(e)", "2028-06-30")


async def test_manual_task_escalates_near_the_due_date(harness) -> None:
    policies = {"erasure": {**NO_GATES["erasure"], "escalate_tasks_days_before_due": 5}}
    async with harness(stores={"shop": DEMO_SHOP, "paper": PAPER}, policies=policies) as h:
        handle = await h.submit(email="bob@example.com")
        view = await h.until(
            handle, lambda v: outcomes(v).get("paper") == "waiting_for_human", "task"
        )
        await h.env.sleep(view.due_at - timedelta(days=6) - view.received_at)
        assert h.rt.ledger.tasks()[0].escalated_at is None
        await h.env.sleep(timedelta(days=2))
        view = await h.until(
            handle, lambda v: any(a.action == "task_escalated" for a in v.actions), "escalation"
        )
        [task] = h.rt.ledger.tasks()
        assert task.escalated_at is not None and task.closed_at is None
        escalations = [
            n for n in h.rt.ledger.notifications(handle.id) if n.kind == "task_escalation"
        ]
        assert [n.stores for n in escalations] == [["paper"]]
        nothing = StoreDecision(
            "paper", "staff:kim", "complete", "none on file", outcome="not_found"
        )
        await h.act(handle, "complete_task", nothing)
        result = await handle.result()
    assert {o.store: o.status for o in result.stores}["paper"] == "not_found"


async def test_legal_hold_pauses_erasure_until_released(harness) -> None:
    async with harness(policies=APPROVAL) as h:
        handle = await h.submit(email="bob@example.com")
        await h.until(handle, lambda v: v.status == "awaiting_approval", "approval gate")
        with pytest.raises(UserError, match="needs a reason"):
            await h.act(handle, "hold", Decision("staff:legal", ""))
        await h.act(handle, "hold", Decision("staff:legal", "litigation hold L-17"))
        await h.act(handle, "approve", Decision("staff:bob", "ok"))
        view = await h.until(handle, lambda v: v.status == "on_hold", "on hold")
        await h.env.sleep(timedelta(days=3))
        view = await h.status(handle)
        assert view.status == "on_hold" and view.on_hold and view.stores == []
        bob = h.demo_dir / "stores" / "shop.db"
        import sqlite3

        with sqlite3.connect(bob) as db:
            assert db.execute("SELECT count(*) FROM customers WHERE id = 2").fetchone() == (1,)
        await h.act(handle, "release", Decision("staff:legal", "hold lifted"))
        result = await handle.result()
    assert result.status == "completed"
    assert [a.action for a in h.rt.ledger.actions(handle.id)] == ["hold", "approved", "released"]


async def test_cancel_before_execution_stops_everything(harness) -> None:
    async with harness(policies=APPROVAL) as h:
        handle = await h.submit(email="bob@example.com")
        await h.until(handle, lambda v: v.status == "awaiting_approval", "approval gate")
        await h.act(handle, "cancel", Decision("staff:ann", "subject withdrew the request"))
        result = await handle.result()
        with pytest.raises(
            UserError, match=r"has ended \(cancelled\); cancel is no longer possible"
        ):
            await h.act(handle, "cancel", Decision("staff:ann", "again"))
    assert result.status == "cancelled" and result.reason == "subject withdrew the request"
    assert result.stores == [] and result.artifact is None
    assert erase_calls(await handle.fetch_history()) == []


async def test_cancel_after_execution_started_records_what_was_done(harness) -> None:
    support_after_crm = {**DEMO_SUPPORT, "after": ["crm"]}
    stores = {"shop": DEMO_SHOP, "crm": broken_store(), "support": support_after_crm}
    async with harness(stores=stores, policies=NO_GATES) as h:
        handle = await h.submit(email="bob@example.com")
        await h.until(handle, lambda v: v.status == "needs_attention", "crm failure")
        await h.act(handle, "cancel", Decision("staff:ann", "duplicate of an older request"))
        result = await handle.result()
    assert result.status == "cancelled"
    assert {o.store: str(o.status) for o in result.stores} == {
        "shop": "done", "crm": "cancelled", "support": "cancelled",
    }  # fmt: skip
    assert erase_calls(await handle.fetch_history()) == ["crm", "shop"]  # support never ran
    assert result.artifact is not None and Path(result.artifact.path).exists()


async def test_denial_cites_its_ground(harness) -> None:
    async with harness(policies=APPROVAL) as h:
        handle = await h.submit(email="bob@example.com")
        await h.until(handle, lambda v: v.status == "awaiting_approval", "approval gate")
        with pytest.raises(UserError, match="must cite its ground"):
            await h.act(handle, "deny", Denial("staff:dpo", " "))
        with pytest.raises(UserError, match="say who acts"):
            await h.act(handle, "deny", Denial("nobody", "Art. 12(5)(b)"))
        await h.act(
            handle,
            "deny",
            Denial("staff:dpo", "Art. 12(5)(b)", "third identical request this month"),
        )
        result = await handle.result()
    assert result.status == "denied"
    assert result.reason == "Art. 12(5)(b): third identical request this month"


async def test_gates_in_order_and_validated(harness) -> None:
    from dsrflow.lifecycle import IdentityVerification

    async with harness(policies={"erasure": {"approval": True}}) as h:
        handle = await h.submit(email="bob@example.com")
        await h.until(handle, lambda v: v.status == "awaiting_verification", "verification gate")
        with pytest.raises(UserError, match="not waiting for approval"):
            await h.act(handle, "approve", Decision("staff:bob", "early"))
        with pytest.raises(UserError, match="method 'telepathy' is not accepted"):
            await h.act(handle, "verify_identity", IdentityVerification("telepathy", "staff:ann"))
        await h.act(
            handle, "verify_identity", IdentityVerification("document_check", "staff:ann", "KYC-9")
        )
        await h.until(handle, lambda v: v.status == "awaiting_approval", "approval gate")
        await h.act(handle, "approve", Decision("staff:bob", "fine"))
        result = await handle.result()
    assert result.status == "completed"
    assert [(a.actor, a.action, a.detail) for a in h.rt.ledger.actions(handle.id)] == [
        ("staff:ann", "identity_verified", "method=document_check ref=KYC-9"),
        ("staff:bob", "approved", "fine"),
    ]


async def test_submission_is_idempotent(harness) -> None:
    async with harness(policies=APPROVAL) as h:
        now = await h.env.get_current_time()
        inp = DsrInput(
            "t-same-id", RequestType.ERASURE, [Identity("email", "bob@example.com")], now
        )
        first = await h.rc.submit(inp)
        retry = await h.rc.submit(
            DsrInput(**{**inp.__dict__, "received_at": now + timedelta(seconds=5)})
        )
        assert first.created and not retry.created
        assert retry.ack.received_at == now  # the original request, not a second one
        other = DsrInput(
            "t-same-id", RequestType.ERASURE, [Identity("email", "eve@example.com")], now
        )
        with pytest.raises(UserError, match="already names a different request"):
            await h.rc.submit(other)
        runs = (
            [w async for w in h.env.client.list_workflows("WorkflowId = 't-same-id'")]
            if False
            else None
        )
        assert runs is None
        await h.act(h.rc.handle("t-same-id"), "cancel", Decision("staff:ann", "test over"))
