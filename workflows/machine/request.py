"""The state and rules of one data-subject request, as a plain class.

Pure: no Temporal import, no I/O, no clock of its own (``now`` is passed in). The workflow
(``dsrflow.workflows.dsr``) feeds it events (people's updates, activity results, timers) and
carries out what it asks for: which status to publish, which snapshot to project. Everything
here is unit-tested in-process (``tests/unit/test_request_machine.py``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from dsrflow.domain import (
    ArtifactRef,
    DsrInput,
    DsrResult,
    HumanAction,
    ProjectionEvent,
    RequestStatus,
    RequestType,
    StatusView,
)
from dsrflow.lifecycle import (
    Decision,
    Denial,
    IdentityVerification,
    Policy,
    StoreDecision,
    due_date,
    fingerprint,
)
from dsrflow.workflows.machine import people
from dsrflow.workflows.machine.clock import Event, clock_events
from dsrflow.workflows.machine.people import Act
from dsrflow.workflows.machine.stores import StoreTable

S = RequestStatus


class RequestMachine:
    """One request's gates, people's decisions, store table, deadlines and history.

    Args:
        inp: The request as submitted.
    """

    def __init__(self, inp: DsrInput) -> None:
        self.inp = inp
        self.fingerprint = fingerprint(inp)
        self.status = S.RECEIVED
        self.reason = ""
        self.policy: Policy | None = None
        self.four_eyes = False  # set by the driver: the policy's setting, behind its patch
        self.original_due = due_date(inp.received_at, inp.regulation)
        self.due_at = self.original_due
        self.extended = False
        self.overdue = False
        self.verified: IdentityVerification | None = None
        self.approved: Decision | None = None
        self.denied: Denial | None = None
        self.hold: Decision | None = None
        self.cancel: Decision | None = None
        self.executing = False
        self.finishing = False  # every store settled: nothing left to cancel
        self.finished = False
        self.artifact: ArtifactRef | None = None
        self.actions: list[HumanAction] = []
        self.stores = StoreTable()
        self.seq = 0
        self._unconfirmed: set[int] = set()  # actions whose update is not durably accepted
        self._projected: ProjectionEvent | None = None  # last snapshot asked for (seq 0)
        self._shown: str | None = None  # last status published

    # -- facts -------------------------------------------------------------------------

    @property
    def erasure(self) -> bool:
        """Whether the request is an erasure (holds and exemptions apply to it only)."""
        return self.inp.request_type == RequestType.ERASURE

    @property
    def dry_run(self) -> bool:
        """Whether every store's verb is rolled back and nobody is asked to act."""
        return self.inp.dry_run

    def cancelled(self) -> bool:
        """Whether a cancel arrived (a method, not a field test: it changes while we await)."""
        return self.cancel is not None

    def ended_early(self) -> bool:
        """Whether a cancel or a denial arrived (the gates stop waiting)."""
        return self.cancel is not None or self.denied is not None

    def held(self) -> bool:
        """Whether an erasure is under legal hold (no store may erase)."""
        return self.hold is not None and self.erasure

    def released(self) -> bool:
        """Whether an erasure may go on: no hold, or the request was cancelled."""
        return self.hold is None or self.cancel is not None

    # -- gates -------------------------------------------------------------------------

    def start(self, policy: Policy) -> None:
        """Take the request type's policy (gates and clock settings)."""
        self.policy = policy

    def wants_four_eyes(self) -> bool:
        """Whether the policy asks that an erasure's approver is not its identity verifier.

        The driver then turns ``four_eyes`` on behind a patch (requests started before the
        rule existed keep approving as they did).
        """
        assert self.policy is not None
        return self.erasure and self.policy.four_eyes and not self.dry_run

    def verification_expires(self) -> datetime:
        """When an unverified request expires."""
        assert self.policy is not None
        return self.inp.received_at + timedelta(seconds=self.policy.verification_timeout_s)

    def gate_verified(self) -> bool:
        """Whether the identity gate is passed (or the request ended while waiting)."""
        return self.verified is not None or self.ended_early()

    def gate_approved(self) -> bool:
        """Whether the approval gate is passed (or the request ended while waiting)."""
        return self.approved is not None or self.ended_early()

    def expiry_reason(self) -> str:
        """Why an unverified request expired."""
        assert self.policy is not None
        return f"identity not verified within {self.policy.verification_timeout_s / 86400:g} days"

    def ending_before_execution(self) -> tuple[RequestStatus, str] | None:
        """How the request ends before any store ran (denied, cancelled), or None."""
        if self.denied is not None:
            d = self.denied
            return S.DENIED, f"{d.ground}: {d.note}".rstrip(": ")
        if self.cancel is not None:
            return S.CANCELLED, self.cancel.reason
        return None

    # -- status ------------------------------------------------------------------------

    def running_status(self) -> RequestStatus:
        """The status while stores run: on hold, needing attention, or running."""
        if self.held():
            return S.ON_HOLD
        if self.dry_run:
            return S.RUNNING  # nobody is asked to act on a dry run
        return S.NEEDS_ATTENTION if self.stores.any_stuck() else S.RUNNING

    def shown_status(self) -> RequestStatus:
        """The status people see: ``overdue`` replaces any open status past the due date."""
        return S.OVERDUE if self.overdue and not self.status.terminal else self.status

    def status_to_publish(self, *, only_changes: bool) -> str | None:
        """The ``DsrStatus`` value to publish now (None: it is what was published last)."""
        shown = str(self.shown_status())
        if only_changes and shown == self._shown:
            return None
        self._shown = shown
        return shown

    def store_changed(self) -> None:
        """After a store's outcome changed: re-derive the running status."""
        if self.executing and not self.status.terminal:
            self.status = self.running_status()

    def end(self, status: RequestStatus, reason: str) -> None:
        """End the request: stores that had not finished are cancelled."""
        self.reason = reason
        self.stores.cancel_open()
        self.status = status

    def reject_start(self, problem: str) -> None:
        """End at once as ``rejected``: the start did not come through dsrflow."""
        self.reason = f"start refused: {problem}"
        self.status = S.REJECTED

    def cancelled_outside(self, actor: str, reason: str) -> None:
        """A Temporal cancel stands for a person's cancel (unless one was already given)."""
        if self.cancel is None:
            self.cancel = Decision(actor, reason)

    def mark_overdue(self) -> None:
        """The due date passed with the request still open."""
        self.overdue = True

    # -- people's actions: ``check_*`` refuse with a reason, ``accept_*`` apply ---------

    def check_submit(self, fp: str) -> None:
        """Refuse a submission under this id whose content differs."""
        people.check_submit(self, fp)

    def check(self, update: str, arg: object, now: datetime) -> None:
        """Refuse a person's ``update`` that the request's rules do not allow now.

        Raises:
            Refused: With a one-line reason.
        """
        people.CHECKS[update](self, arg, now)

    def accept(self, update: str, arg: object) -> Act:
        """Apply a person's ``update`` (checked before); what to record about it."""
        return people.ACCEPTS[update](self, arg)

    def decide(self, d: StoreDecision) -> Act:
        """Hold a decision on a stuck store for its coroutine."""
        self.stores.decide(d)
        detail = " ".join(x for x in (d.outcome, d.ground, d.until, d.reason) if x)
        return Act(d.actor, f"store_{d.kind}", detail, store=d.store)

    # -- clock -------------------------------------------------------------------------

    def clock_events(self, due: datetime) -> list[Event]:
        """The clock's events for a due date."""
        assert self.policy is not None
        return clock_events(self.policy, self.inp.received_at, due)

    def past_escalation(self, now: datetime) -> bool:
        """Whether a failure or task now goes to people at once (close to the due date)."""
        assert self.policy is not None
        return now >= self.due_at - timedelta(seconds=self.policy.escalation_offset_s)

    # -- history and projection --------------------------------------------------------

    def record(
        self, now: datetime, actor: str, action: str, detail: str = "", store: str | None = None
    ) -> HumanAction:
        """Add an action to the request's history."""
        action_ = HumanAction(len(self.actions) + 1, now, actor, action, store, detail)
        self.actions.append(action_)
        return action_

    def hold_back(self, seq: int) -> None:
        """Leave an action out of snapshots until its update is durably accepted."""
        self._unconfirmed.add(seq)

    def confirm(self, seq: int) -> None:
        """An action's update is durably accepted: snapshots include it."""
        self._unconfirmed.discard(seq)

    def snapshot(
        self, *, durable: bool = False, only_changes: bool = False
    ) -> ProjectionEvent | None:
        """The next snapshot for the ledger, or None when nothing changed since the last one.

        Args:
            durable: For a projection that runs once the current workflow task is in history:
                it carries the actions held back too.
            only_changes: Return None for a snapshot equal to the last one asked for.
        """
        pending = not durable and self._unconfirmed
        event = ProjectionEvent(
            request_id=self.inp.request_id,
            request_type=self.inp.request_type,
            status=self.status,
            received_at=self.inp.received_at,
            stores=list(self.stores.outcomes.values()),
            artifact=self.artifact,
            regulation=self.inp.regulation,
            seq=0,
            due_at=self.due_at,
            overdue=self.overdue,
            reason=self.reason,
            actions=[a for a in self.actions if not pending or a.seq not in self._unconfirmed],
        )
        if only_changes and event == self._projected:
            return None
        self._projected = event
        self.seq += 1
        return replace(event, seq=self.seq)

    def view(self) -> StatusView:
        """Where the request stands, store by store, with its clock and history."""
        return StatusView(
            request_id=self.inp.request_id,
            request_type=self.inp.request_type,
            status=self.status,
            stores=list(self.stores.outcomes.values()),
            artifact=self.artifact,
            received_at=self.inp.received_at,
            due_at=self.due_at,
            overdue=self.overdue,
            extended=self.extended,
            on_hold=self.hold is not None,
            reason=self.reason,
            actions=list(self.actions),
        )

    def result(self) -> DsrResult:
        """The workflow's result."""
        return DsrResult(
            request_id=self.inp.request_id,
            status=self.status,
            stores=list(self.stores.outcomes.values()),
            artifact=self.artifact,
            reason=self.reason,
        )
