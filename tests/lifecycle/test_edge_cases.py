"""Edge cases a review found: holds against denials and manual tasks, extension units,
restricting exempt stores by resolved identities, actors that do not fit, scrubbed errors."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from dsrflow.activities.errors import store_errors
from dsrflow.domain import RequestType
from dsrflow.errors import UserError
from dsrflow.lifecycle import Decision, Denial, ExtensionRequest, StoreDecision
from tests.fixtures.lifecycle import DEMO_SHOP, DEMO_SUPPORT

APPROVAL = {"erasure": {"identity_verification": False, "approval": True}}
NO_GATES = {"erasure": {"identity_verification": False, "approval": False}}
PAPER = {"adapter": "manual", "instructions": "Shred the paper file in cabinet 3"}


def count(demo_dir: Path, db: str, sql: str) -> int:
    with sqlite3.connect(demo_dir / "stores" / f"{db}.db") as conn:
        return conn.execute(sql).fetchone()[0]


async def test_denial_during_a_hold_is_honoured(harness) -> None:
    async with harness(policies=APPROVAL) as h:
        handle = await h.submit(email="bob@example.com")
        await h.until(handle, lambda v: v.status == "awaiting_approval", "approval gate")
        await h.act(handle, "hold", Decision("staff:legal", "litigation hold"))
        await h.act(handle, "deny", Denial("staff:dpo", "Art. 12(5)(b)", "manifestly unfounded"))
        result = await handle.result()
        with pytest.raises(UserError, match=r"has ended \(denied\); release is no longer"):
            await h.act(handle, "release", Decision("staff:legal", "lifted"))
    assert result.status == "denied" and result.stores == []
    assert count(h.demo_dir, "shop", "SELECT count(*) FROM customers WHERE id = 2") == 1


async def test_deny_while_on_hold_before_approval(harness) -> None:
    async with harness(policies=APPROVAL) as h:
        handle = await h.submit(email="bob@example.com")
        await h.until(handle, lambda v: v.status == "awaiting_approval", "approval gate")
        await h.act(handle, "hold", Decision("staff:legal", "litigation hold"))
        await h.act(handle, "approve", Decision("staff:bob", "ok"))
        await h.until(handle, lambda v: v.status == "on_hold", "on hold")
        with pytest.raises(UserError, match="already approved"):
            await h.act(handle, "deny", Denial("staff:dpo", "Art. 12(5)(b)"))
        await h.act(handle, "cancel", Decision("staff:dpo", "withdrawn during the hold"))
        result = await handle.result()
    assert result.status == "cancelled" and result.stores == []
    assert count(h.demo_dir, "shop", "SELECT count(*) FROM customers WHERE id = 2") == 1


async def test_hold_stops_manual_erasure_tasks(harness) -> None:
    async with harness(stores={"shop": DEMO_SHOP, "paper": PAPER}, policies=NO_GATES) as h:
        handle = await h.submit(email="bob@example.com")
        await h.until(
            handle,
            lambda v: {o.store: o.status for o in v.stores}.get("paper") == "waiting_for_human",
            "the paper task",
        )
        await h.act(handle, "hold", Decision("staff:legal", "litigation hold"))
        done = StoreDecision(
            "paper", "staff:kim", "complete", outcome="done", method="shredded",
            certificate_ref="SHRED-7",
        )  # fmt: skip
        with pytest.raises(UserError, match="on legal hold: nothing may be erased"):
            await h.act(handle, "complete_task", done)
        await h.act(handle, "release", Decision("staff:legal", "lifted"))
        await h.act(handle, "complete_task", done)
        result = await handle.result()
    assert {o.store: o.status for o in result.stores} == {"shop": "done", "paper": "done"}


async def test_hold_during_execution_keeps_later_manual_tasks_closed(harness) -> None:
    from tests.fixtures.lifecycle import broken_store

    stores = {"shop": DEMO_SHOP, "crm": broken_store(), "paper": {**PAPER, "after": ["crm"]}}
    async with harness(stores=stores, policies=NO_GATES) as h:
        handle = await h.submit(email="bob@example.com")
        await h.until(handle, lambda v: v.status == "needs_attention", "crm to fail")
        await h.act(handle, "hold", Decision("staff:legal", "litigation hold"))
        await h.act(handle, "skip_store", StoreDecision("crm", "staff:ann", "skip", "retired"))
        view = await h.until(
            handle,
            lambda v: {o.store: o.status for o in v.stores}["crm"] == "skipped",
            "crm skipped",
        )
        await h.env.sleep(timedelta(hours=1))  # give the workflow every chance to move on
        view = await h.status(handle)
        assert {o.store: o.status for o in view.stores}["paper"] == "pending"
        assert view.status == "on_hold" and h.rt.ledger.tasks() == []
        await h.act(handle, "release", Decision("staff:legal", "lifted"))
        await h.until(
            handle,
            lambda v: {o.store: o.status for o in v.stores}["paper"] == "waiting_for_human",
            "the paper task after release",
        )
        done = StoreDecision(
            "paper", "staff:kim", "complete", outcome="done", method="shredded",
            certificate_ref="SHRED-7",
        )  # fmt: skip
        await h.act(handle, "complete_task", done)
        result = await handle.result()
    assert {o.store: o.status for o in result.stores} == {
        "shop": "done", "crm": "skipped", "paper": "done",
    }  # fmt: skip


async def test_extension_unit_must_match_the_regulation(harness) -> None:
    async with harness(policies=APPROVAL) as h:
        ccpa = await h.submit(email="bob@example.com", regulation="ccpa")
        gdpr = await h.submit(email="bob@example.com")
        for hd in (ccpa, gdpr):
            await h.until(hd, lambda v: v.status == "awaiting_approval", "approval gate")
        with pytest.raises(UserError, match="CCPA extensions are counted in days, not months"):
            await h.act(ccpa, "extend", ExtensionRequest("staff:ann", "volume", 2, "months"))
        with pytest.raises(UserError, match="GDPR extensions are counted in months, not days"):
            await h.act(gdpr, "extend", ExtensionRequest("staff:ann", "volume", 30, "days"))
        with pytest.raises(UserError, match="at most 120 characters"):
            await h.act(gdpr, "approve", Decision("staff:" + "x" * 200, "ok"))
        for hd in (ccpa, gdpr):
            await h.act(hd, "cancel", Decision("staff:ann", "test over"))


async def test_exempt_store_is_restricted_by_resolved_identities(
    harness,
    demo_dir: Path,
) -> None:
    """The billing store keys on customer_id, which only the shop's resolution provides."""
    with sqlite3.connect(demo_dir / "stores" / "billing.db") as conn:
        conn.executescript(
            "CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer_id INTEGER, "
            "restricted INTEGER NOT NULL DEFAULT 0);"
            "INSERT INTO invoices VALUES (1, 2, 0), (2, 2, 0), (3, 3, 0);"
        )
    billing = {
        "adapter": "sql",
        "after": ["shop"],
        "connection": {"url": "sqlite:///stores/billing.db"},
        "exemption": {"ground": "Art. 17(3)(b)", "note": "tax law", "until": "2034-12-31"},
        "collections": {
            "invoices": {
                "identities": {"customer_id": "customer_id"},
                "restrict": {"column": "restricted", "value": 1},
            }
        },
    }
    stores = {"shop": DEMO_SHOP, "support": DEMO_SUPPORT, "billing": billing}
    async with harness(stores=stores, policies=NO_GATES) as h:
        handle = await h.submit(RequestType.ERASURE, "bob@example.com")
        result = await handle.result()
    outcome = next(o for o in result.stores if o.store == "billing")
    assert outcome.status == "exempt" and outcome.receipt.affected == 2
    assert outcome.exemption.note == "tax law"
    restricted = count(demo_dir, "billing", "SELECT count(*) FROM invoices WHERE restricted = 1")
    assert restricted == 2  # bob's two invoices, not carol's


async def test_unexpected_errors_leave_activities_scrubbed() -> None:
    def boom() -> None:
        with store_errors("crm"):
            raise RuntimeError("lookup of 'alice@example.com' failed with value 'jsmith'")

    with pytest.raises(ApplicationError) as exc:
        ActivityEnvironment().run(boom)
    assert "alice@example.com" not in exc.value.message and "jsmith" not in exc.value.message
    assert exc.value.message.startswith("store 'crm': RuntimeError:")
    assert exc.value.type == "RuntimeError" and not exc.value.non_retryable
