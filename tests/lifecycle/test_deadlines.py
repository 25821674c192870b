"""Due-date arithmetic (pure) and the deadline clock on time-skipping Temporal."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError  # noqa: F401 - documents what refusals are

from dsrflow.errors import UserError
from dsrflow.lifecycle import Decision, ExtensionRequest, due_date, extension_problem

D = datetime


@pytest.mark.parametrize(
    ("received", "regulation", "extension", "due"),
    [
        (D(2026, 1, 31, 9, tzinfo=UTC), "gdpr", 0, D(2026, 2, 28, 23, 59, 59, tzinfo=UTC)),
        (D(2028, 1, 31, 9, tzinfo=UTC), "gdpr", 0, D(2028, 2, 29, 23, 59, 59, tzinfo=UTC)),
        (D(2026, 3, 15, 9, tzinfo=UTC), "gdpr", 0, D(2026, 4, 15, 23, 59, 59, tzinfo=UTC)),
        (D(2026, 12, 31, 9, tzinfo=UTC), "gdpr", 0, D(2027, 1, 31, 23, 59, 59, tzinfo=UTC)),
        (D(2026, 8, 31, 9, tzinfo=UTC), "gdpr", 0, D(2026, 9, 30, 23, 59, 59, tzinfo=UTC)),
        # two further months count from receipt: three calendar months in all
        (D(2026, 1, 31, 9, tzinfo=UTC), "gdpr", 2, D(2026, 4, 30, 23, 59, 59, tzinfo=UTC)),
        (D(2026, 11, 30, 9, tzinfo=UTC), "gdpr", 2, D(2027, 2, 28, 23, 59, 59, tzinfo=UTC)),
        (D(2026, 1, 1, 9, tzinfo=UTC), "ccpa", 0, D(2026, 2, 15, 23, 59, 59, tzinfo=UTC)),
        (D(2026, 1, 1, 9, tzinfo=UTC), "ccpa", 45, D(2026, 4, 1, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_due_date(received: datetime, regulation: str, extension: int, due: datetime) -> None:
    assert due_date(received, regulation, extension) == due


def test_extension_rules() -> None:
    due = D(2026, 2, 28, 23, 59, 59, tzinfo=UTC)
    before = due - timedelta(days=1)
    assert extension_problem("gdpr", 2, False, before, due) is None
    assert (
        extension_problem("gdpr", 3, False, before, due)
        == "an extension is 1 to 2 months under GDPR"
    )
    assert extension_problem("ccpa", 45, False, before, due) is None
    assert (
        extension_problem("ccpa", 46, False, before, due)
        == "an extension is 1 to 45 days under CCPA"
    )
    assert (
        extension_problem("gdpr", 1, True, before, due) == "the deadline was already extended once"
    )
    assert "has passed" in extension_problem("gdpr", 1, False, due + timedelta(seconds=1), due)


APPROVAL_ONLY = {"erasure": {"identity_verification": False, "approval": True}}


async def test_extension_allowed_once_and_only_before_due(harness) -> None:
    async with harness(policies=APPROVAL_ONLY) as h:
        handle = await h.submit()
        view = await h.until(handle, lambda v: v.status == "awaiting_approval", "approval gate")
        original = view.due_at
        ack = await h.act(handle, "extend", ExtensionRequest("staff:ann", "complex request", 2))
        assert ack.due_at == due_date(view.received_at, "gdpr", 2) and ack.due_at > original
        view = await h.status(handle)
        assert view.extended and view.due_at == ack.due_at
        assert [a.action for a in view.actions] == ["deadline_extended"]
        assert view.actions[0].detail == "+2 months: complex request"
        with pytest.raises(
            UserError, match="extend refused: the deadline was already extended once"
        ):
            await h.act(handle, "extend", ExtensionRequest("staff:ann", "again", 1))
        with pytest.raises(UserError, match="needs a reason"):
            await h.act(handle, "extend", ExtensionRequest("staff:ann", " ", 1))

        late = await h.submit()
        await h.until(late, lambda v: v.status == "awaiting_approval", "approval gate")
        await h.env.sleep(timedelta(days=32))
        with pytest.raises(UserError, match=r"the original due date \S+ has passed"):
            await h.act(late, "extend", ExtensionRequest("staff:ann", "too late", 2))
        for hd in (handle, late):
            await h.act(hd, "cancel", Decision("staff:ann", "test over"))


async def test_reminders_then_overdue(harness) -> None:
    policies = {"erasure": {**APPROVAL_ONLY["erasure"], "reminder_days_before_due": [7, 2]}}
    async with harness(policies=policies) as h:
        handle = await h.submit()
        view = await h.until(handle, lambda v: v.status == "awaiting_approval", "approval gate")
        due = view.due_at
        await h.env.sleep(due - timedelta(days=6) - view.received_at)
        view = await h.until(handle, lambda v: len(v.actions) == 1, "first reminder")
        assert [a.action for a in view.actions] == ["reminder"] and not view.overdue
        assert view.actions[0].detail == "7 days before due"
        await h.env.sleep(timedelta(days=5))
        view = await h.until(handle, lambda v: len(v.actions) == 2, "second reminder")
        assert view.actions[1].detail == "2 days before due" and not view.overdue
        desc = await handle.describe()
        assert desc.search_attributes["DsrStatus"] == ["awaiting_approval"]

        await h.env.sleep(timedelta(days=2))
        view = await h.until(handle, lambda v: v.overdue, "overdue flag")
        assert view.status == "awaiting_approval" and view.actions[-1].action == "overdue"
        desc = await handle.describe()
        assert desc.search_attributes["DsrStatus"] == ["overdue"]
        assert desc.search_attributes["DsrDueAt"] == [due]
        kinds = [n.kind for n in h.rt.ledger.notifications(handle.id)]
        assert kinds == ["reminder", "reminder", "overdue"]
        row = h.rt.ledger.get_request(handle.id)
        assert row.overdue and [r.id for r in h.rt.ledger.list_requests(overdue=True)] == [
            handle.id
        ]
        # Overdue requests still complete; the flag stays in the record.
        await h.act(handle, "approve", Decision("staff:bob", "late but done"))
        result = await handle.result()
        assert result.status == "completed"


async def test_unverified_request_expires(harness) -> None:
    policies = {"erasure": {"verification_timeout_days": 10, "approval": False}}
    async with harness(policies=policies) as h:
        handle = await h.submit()
        await h.until(handle, lambda v: v.status == "awaiting_verification", "verification gate")
        await h.env.sleep(timedelta(days=9))
        assert (await h.status(handle)).status == "awaiting_verification"
        await h.env.sleep(timedelta(days=1, hours=1))
        result = await handle.result()
        assert result.status == "expired"
        assert result.reason == "identity not verified within 10 days"
        assert result.stores == []  # nothing ran
        assert [n.kind for n in h.rt.ledger.notifications(handle.id)] == ["expired"]
        assert h.rt.ledger.get_request(handle.id).status == "expired"


async def test_ccpa_clock(harness) -> None:
    async with harness(policies=APPROVAL_ONLY) as h:
        handle = await h.submit(regulation="ccpa")
        view = await h.until(handle, lambda v: v.status == "awaiting_approval", "approval gate")
        day = view.received_at.astimezone(UTC).date()
        end = time(23, 59, 59)
        assert view.due_at == datetime.combine(day + timedelta(days=45), end, tzinfo=UTC)
        ack = await h.act(handle, "extend", ExtensionRequest("staff:ann", "volume", 45, "days"))
        assert ack.due_at == datetime.combine(day + timedelta(days=90), end, tzinfo=UTC)
        await h.act(handle, "cancel", Decision("staff:ann", "test over"))
        result = await handle.result()
        assert result.status == "cancelled" and result.reason == "test over"
