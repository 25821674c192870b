"""The request's state machine, in-process: gates, people's actions, stores, clock, snapshots."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dsrflow.domain import (
    DsrInput,
    Identity,
    Plan,
    RequestStatus,
    RequestType,
    StorePlan,
    StoreStatus,
)
from dsrflow.lifecycle import (
    Decision,
    Denial,
    ExtensionRequest,
    IdentityVerification,
    Policy,
    StoreDecision,
    fingerprint,
)
from dsrflow.workflows.machine import IllegalTransition, Refused, RequestMachine

R, S = RequestStatus, StoreStatus
T0 = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
ANN = "staff:ann"


def machine(
    rtype: RequestType = RequestType.ERASURE, *, dry_run: bool = False, **policy: object
) -> RequestMachine:
    m = RequestMachine(
        DsrInput("r-1", rtype, [Identity("email", "a@example.com")], T0, dry_run=dry_run)
    )
    m.start(Policy(**policy))  # type: ignore[arg-type]
    return m


def planned(m: RequestMachine, *stores: StorePlan) -> RequestMachine:
    m.executing = True
    m.status = R.RUNNING
    m.stores.load(Plan(list(stores), "sha256:cat"))
    return m


def store(name: str, *caps: str, after: tuple[str, ...] = ()) -> StorePlan:
    return StorePlan(name, "sql", list(caps or ("erase",)), after=list(after))


def refused(m: RequestMachine, update: str, arg: object, now: datetime = T0) -> str:
    with pytest.raises(Refused) as err:
        m.check(update, arg, now)
    return str(err.value)


# -- gates ------------------------------------------------------------------------------


def test_a_new_request_is_received_and_due_a_month_later() -> None:
    m = machine()
    assert m.status == R.RECEIVED
    assert m.due_at == datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC)  # 31 Jan -> 28 Feb
    m.check_submit(fingerprint(m.inp))
    with pytest.raises(Refused, match="already names a different request"):
        m.check_submit("other")


def test_identity_verification_only_while_waiting_and_by_an_accepted_method() -> None:
    m = machine()
    v = IdentityVerification("email_link", ANN)
    assert "not waiting for identity verification" in refused(m, "verify_identity", v)
    m.status = R.AWAITING_VERIFICATION
    assert "is not accepted" in refused(m, "verify_identity", replace(v, method="telepathy"))
    assert "say who acts" in refused(m, "verify_identity", replace(v, verifier="ann"))
    assert not m.gate_verified()
    m.check("verify_identity", v, T0)
    act = m.accept("verify_identity", replace(v, reference="T-1"))
    assert (act.actor, act.action) == (ANN, "identity_verified")
    assert act.detail == "method=email_link ref=T-1"
    assert m.gate_verified()


def test_verification_expiry_reason_and_deadline() -> None:
    m = machine(verification_timeout_s=3 * 86400)
    assert m.verification_expires() == T0 + timedelta(days=3)
    assert m.expiry_reason() == "identity not verified within 3 days"


def test_approval_once_and_only_while_waiting() -> None:
    m = machine(approval=True)
    d = Decision(ANN, "ok")
    assert "not waiting for approval" in refused(m, "approve", d)
    m.status = R.AWAITING_APPROVAL
    m.accept("approve", d)
    assert m.gate_approved()
    assert refused(m, "approve", d) == "the request was already decided"


def test_a_denial_cites_its_ground_and_ends_the_request_before_execution() -> None:
    m = machine()
    assert "must cite its ground" in refused(m, "deny", Denial(ANN, " "))
    m.accept("deny", Denial(ANN, "Art. 12(5)(b)", "manifestly unfounded"))
    assert m.ended_early() and m.gate_verified() and m.gate_approved()
    assert m.ending_before_execution() == (R.DENIED, "Art. 12(5)(b): manifestly unfounded")
    assert refused(m, "deny", Denial(ANN, "x")) == "the request was already denied"


def test_no_denial_once_execution_started() -> None:
    m = planned(machine(), store("shop"))
    assert "can only be denied before execution" in refused(m, "deny", Denial(ANN, "x"))


def test_cancel_before_execution_ends_it_and_not_once_every_store_finished() -> None:
    m = machine()
    m.accept("cancel", Decision(ANN, "withdrawn"))
    assert m.ending_before_execution() == (R.CANCELLED, "withdrawn")
    assert "already" in refused(m, "cancel", Decision(ANN, "again"))
    late = planned(machine(), store("shop"))
    late.finishing = True
    assert "producing its result" in refused(late, "cancel", Decision(ANN, "late"))


# -- deadlines --------------------------------------------------------------------------


def test_one_extension_before_the_original_due_date_in_the_law_s_unit() -> None:
    m = machine()
    e = ExtensionRequest(ANN, "complex request", 2, "months")
    assert "needs a reason" in refused(m, "extend", replace(e, reason=" "))
    assert "counted in months, not days" in refused(m, "extend", replace(e, unit="days"))
    assert "has passed" in refused(m, "extend", e, now=m.original_due + timedelta(days=1))
    act = m.accept("extend", e)
    assert act.detail == "+2 months: complex request"
    assert m.extended and m.due_at == datetime(2026, 4, 30, 23, 59, 59, tzinfo=UTC)
    assert refused(m, "extend", e) == "the deadline was already extended once"


def test_clock_events_in_order_without_reminders_before_receipt() -> None:
    day = 86400.0
    m = machine(reminder_offsets_s=[40 * day, 2 * day], escalation_offset_s=5 * day)
    events = m.clock_events(m.due_at)
    # The 40-day reminder would fall before the request arrived: not sent late.
    assert [(k, o) for _, k, o in events] == [
        ("escalation", 5 * day),
        ("reminder", 2 * day),
        ("overdue", 0.0),
    ]
    assert events[-1][0] == m.due_at + timedelta(seconds=1)
    assert not m.past_escalation(m.due_at - timedelta(days=6))
    assert m.past_escalation(m.due_at - timedelta(days=5))


def test_overdue_shows_on_open_requests_only() -> None:
    m = planned(machine(), store("shop"))
    m.mark_overdue()
    assert m.shown_status() == R.OVERDUE
    m.end(R.COMPLETED, "")
    assert m.shown_status() == R.COMPLETED


# -- hold -------------------------------------------------------------------------------


def test_hold_applies_to_erasure_and_pauses_it_until_released() -> None:
    access = machine(RequestType.ACCESS)
    assert "applies to erasure" in refused(access, "hold", Decision(ANN, "litigation"))
    m = planned(machine(), store("shop"))
    assert "needs a reason" in refused(m, "hold", Decision(ANN, ""))
    act = m.accept("hold", Decision(ANN, "litigation"))
    assert act.status == R.ON_HOLD and m.held() and not m.released()
    assert m.running_status() == R.ON_HOLD
    assert "and on hold" in refused(m, "hold", Decision(ANN, "again"))
    m.status = R.ON_HOLD
    m.stores.update("shop", status=S.RUNNING)
    m.stores.update("shop", status=S.FAILED_NEEDS_ATTENTION)
    back = m.accept("release", Decision(ANN, "settled"))
    assert back.status == R.NEEDS_ATTENTION  # a store waits for a person
    assert m.released()
    assert "not on hold" in refused(m, "release", Decision(ANN, "again"))


def test_a_hold_before_execution_changes_no_status() -> None:
    m = machine()
    m.status = R.AWAITING_VERIFICATION
    assert m.accept("hold", Decision(ANN, "litigation")).status is None
    assert m.accept("release", Decision(ANN, "done")).status is None


# -- stores -----------------------------------------------------------------------------


def test_store_transitions_follow_the_lifecycle() -> None:
    m = planned(machine(), store("shop"))
    m.stores.update("shop", status=S.RUNNING)
    m.stores.update("shop", status=S.DONE, actor="workload:x")
    with pytest.raises(IllegalTransition, match="'shop' cannot go from done to running"):
        m.stores.update("shop", status=S.RUNNING)
    m.stores.update("shop", note="same status, other fields: allowed")
    fresh = planned(machine(), store("crm"))
    with pytest.raises(IllegalTransition, match="from pending to done"):
        fresh.stores.update("crm", status=S.DONE)


def test_a_store_starts_once_the_stores_it_runs_after_settled() -> None:
    a, b, c = store("a"), store("b", after=("a",)), store("c", after=("a", "gone"))
    m = planned(machine(), a, b, c)
    assert m.stores.ready(a) and not m.stores.ready(b) and not m.stores.ready(c)
    m.stores.update("a", status=S.RUNNING)
    m.stores.update("a", status=S.FAILED_NEEDS_ATTENTION)
    assert not m.stores.ready(b)  # waiting for a person is not settled
    m.stores.update("a", status=S.SKIPPED, note="fixed by hand")
    assert m.stores.ready(b) and m.stores.ready(c)  # a store not in the plan is ignored


def test_a_dry_run_failure_settles_the_store_and_survives_the_end() -> None:
    m = planned(machine(dry_run=True), store("a"), store("b", after=("a",)), store("c"))
    m.stores.update("a", status=S.RUNNING)
    m.stores.update("a", status=S.FAILED_NEEDS_ATTENTION)
    m.stores.dry_settled.add("a")
    assert m.stores.ready(m.stores.stores["b"])
    assert m.running_status() == R.RUNNING  # nobody is asked on a dry run
    m.end(R.COMPLETED, "")
    assert m.stores.outcomes["a"].status == S.FAILED_NEEDS_ATTENTION
    assert m.stores.outcomes["c"].status == S.CANCELLED


def test_decisions_on_stuck_stores() -> None:
    m = planned(machine(), store("shop"), store("desk"))
    retry = StoreDecision("shop", ANN, "retry")
    assert "is pending; cannot retry it now" in refused(m, "retry_store", retry)
    assert "not part of this request" in refused(m, "retry_store", replace(retry, store="x"))
    assert "kind must be 'retry'" in refused(m, "retry_store", replace(retry, kind="skip"))
    m.stores.update("shop", status=S.RUNNING)
    m.stores.update("shop", status=S.FAILED_NEEDS_ATTENTION)
    assert m.running_status() == R.NEEDS_ATTENTION
    act = m.accept("retry_store", retry)
    assert (act.action, act.store) == ("store_retry", "shop")
    assert "cannot retry it now" in refused(m, "retry_store", retry)  # one decision at a time
    assert m.stores.take_decision("shop") == retry and m.stores.take_decision("shop") is None
    skip = StoreDecision("shop", ANN, "skip")
    assert "needs a reason" in refused(m, "skip_store", skip)
    exempt = StoreDecision("shop", ANN, "exempt", ground="Art. 6")
    assert "Art. 17(3) ground" in refused(m, "exempt_store", exempt)
    m.check("exempt_store", replace(exempt, ground="Art. 17(3)(b)"), T0)


def test_no_decision_is_waited_for_on_a_dry_run() -> None:
    m = planned(machine(dry_run=True), store("shop"))
    m.stores.update("shop", status=S.RUNNING)
    m.stores.update("shop", status=S.FAILED_NEEDS_ATTENTION)
    assert "dry run" in refused(m, "retry_store", StoreDecision("shop", ANN, "retry"))


def test_a_manual_erasure_is_attested_and_not_completed_under_hold() -> None:
    m = planned(machine(), store("desk"))
    m.stores.update("desk", status=S.WAITING_FOR_HUMAN)
    done = StoreDecision("desk", ANN, "complete", outcome="done")
    assert "say how the data was disposed of" in refused(m, "complete_task", done)
    assert "'done' or 'not_found'" in refused(m, "complete_task", replace(done, outcome="ok"))
    attested = replace(done, method="shredded", certificate_ref="SHRED-1")
    m.check("complete_task", attested, T0)
    m.accept("hold", Decision(ANN, "litigation"))
    assert "on legal hold" in refused(m, "complete_task", attested)
    access = planned(machine(RequestType.ACCESS), store("desk", "access"))
    access.stores.update("desk", status=S.WAITING_FOR_HUMAN)
    assert "attest an erasure" in refused(access, "complete_task", attested)
    assert "apply to erasure" in refused(
        access, "exempt_store", StoreDecision("desk", ANN, "exempt", ground="Art. 17(3)(b)")
    )


def test_the_end_cancels_every_store_that_had_not_ended() -> None:
    m = planned(machine(), store("a"), store("b"), store("c"))
    m.stores.update("a", status=S.RUNNING)
    m.stores.update("a", status=S.DONE)
    m.stores.update("b", status=S.WAITING_FOR_HUMAN)
    m.end(R.CANCELLED, "withdrawn")
    assert [o.status for o in m.stores.outcomes.values()] == [S.DONE, S.CANCELLED, S.CANCELLED]
    result = m.result()
    assert (result.status, result.reason, len(result.stores)) == (R.CANCELLED, "withdrawn", 3)


# -- publication ------------------------------------------------------------------------


def test_the_status_is_published_only_when_it_changed() -> None:
    m = machine()
    m.status = R.AWAITING_VERIFICATION
    assert m.status_to_publish(only_changes=True) == "awaiting_verification"
    assert m.status_to_publish(only_changes=True) is None
    assert m.status_to_publish(only_changes=False) == "awaiting_verification"  # older runs
    m.mark_overdue()
    assert m.status_to_publish(only_changes=True) == "overdue"


def test_a_snapshot_is_projected_only_when_something_changed() -> None:
    m = machine()
    first = m.snapshot(only_changes=True)
    assert first is not None and first.seq == 1
    assert m.snapshot(only_changes=True) is None and m.seq == 1
    m.record(T0, ANN, "note")
    second = m.snapshot(only_changes=True)
    assert second is not None and second.seq == 2 and len(second.actions) == 1
    again = m.snapshot()  # older runs project every time
    assert again is not None and again.seq == 3


def test_an_action_not_yet_accepted_is_left_out_of_local_snapshots() -> None:
    m = machine()
    action = m.record(T0, ANN, "approved")
    m.hold_back(action.seq)
    local = m.snapshot(only_changes=True)
    assert local is not None and local.actions == []
    durable = m.snapshot(durable=True, only_changes=True)
    assert durable is not None and [a.action for a in durable.actions] == ["approved"]
    m.confirm(action.seq)
    later = m.snapshot(only_changes=True)  # equals the durable one: nothing to project
    assert later is None


def test_the_view_shows_the_clock_and_the_hold() -> None:
    m = planned(machine(), store("shop"))
    m.accept("hold", Decision(ANN, "litigation"))
    view = m.view()
    assert view.on_hold and view.due_at == m.due_at and view.stores[0].store == "shop"


def test_rejected_start_keeps_only_the_reason() -> None:
    m = machine()
    m.reject_start("no dsrflow caller assertion")
    assert (m.status, m.reason) == (R.REJECTED, "start refused: no dsrflow caller assertion")


# -- purity -----------------------------------------------------------------------------


def test_the_machine_imports_no_temporal_and_no_io() -> None:
    import dsrflow.workflows.machine as pkg

    for path in Path(pkg.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        banned = [
            n for n in names
            if n.split(".")[0] in ("temporalio", "sqlalchemy", "asyncio", "os", "socket")
            or n.startswith(("dsrflow.activities", "dsrflow.adapters", "dsrflow.ledger"))
        ]  # fmt: skip
        assert not banned, f"{path.name} imports {banned}"
