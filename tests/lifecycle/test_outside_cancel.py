"""A workflow cancel sent from outside dsrflow (the Temporal UI) is handled inside the workflow."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.lifecycle import DEMO_SHOP, DEMO_SUPPORT, broken_store
from tests.lifecycle.test_outcomes import NO_GATES, erase_calls


async def test_outside_cancel_during_execution_records_and_evidences_what_was_done(
    harness,
) -> None:
    support_after_crm = {**DEMO_SUPPORT, "after": ["crm"]}
    stores = {"shop": DEMO_SHOP, "crm": broken_store(), "support": support_after_crm}
    async with harness(stores=stores, policies=NO_GATES) as h:
        handle = await h.submit(email="bob@example.com")
        await h.until(handle, lambda v: v.status == "needs_attention", "crm failure")
        await handle.cancel()  # what the UI's "Cancel" button sends
        result = await handle.result()
        row = h.rt.ledger.get_request(result.request_id)
        audited = [e.action for e in h.rt.ledger.audit_entries(result.request_id)]
    assert result.status == "cancelled"
    assert result.reason == "cancelled from outside dsrflow (a Temporal workflow cancel)"
    assert {o.store: str(o.status) for o in result.stores} == {
        "shop": "done", "crm": "cancelled", "support": "cancelled",
    }  # fmt: skip
    assert erase_calls(await handle.fetch_history()) == ["crm", "shop"]  # support never ran
    assert result.artifact is not None and Path(result.artifact.path).exists()
    assert row is not None and row.status == "cancelled" and row.completed_at is not None
    assert audited.count("cancelled_outside_dsrflow") == 1
