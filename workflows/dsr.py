"""``DataSubjectRequestWorkflow``: the durable life of one data-subject request.

Orchestration only: every decision is deterministic, every side effect is an activity. The
workflow id is the request id, so Temporal itself refuses a second request under the same id;
``submit`` (sent with update-with-start) makes a retried submission land on the same request.

Life of a request: gates (identity verification with expiry, optional approval), legal hold,
planning, identity resolution, fan-out in the catalog's order with a clear end state per store,
the result (access package or evidence bundle). A deadline clock runs alongside all of it.
People act through validated updates; each action is recorded with who and when.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from dsrflow.workflows.checks import WORKLOAD, StoreChecks
from dsrflow.workflows.clock import Clock
from dsrflow.workflows.common import DSR_DUE, DSR_STATUS, DSR_TYPE, NOTIFY_RETRY, SHORT, SHORT_RETRY
from dsrflow.workflows.decisions import StoreDecisions, need_actor
from dsrflow.workflows.outside import Outside
from dsrflow.workflows.projecting import Projecting
from dsrflow.workflows.steps import StoreSteps

with workflow.unsafe.imports_passed_through():
    from dsrflow.domain import (
        ArtifactRef,
        DsrInput,
        DsrResult,
        HumanAction,
        Identity,
        Plan,
        RequestStatus,
        RequestType,
        StatusView,
        StoreOutcome,
        StorePlan,
        StoreReceipt,
        StoreStatus,
    )
    from dsrflow.lifecycle import (
        Decision,
        Denial,
        IdentityVerification,
        Notification,
        Policy,
        PolicyInput,
        StoreDecision,
        Submission,
        SubmissionAck,
        UpdateAck,
        due_date,
        fingerprint,
    )

PATCH_RELEASE_STATUS = "release-keeps-status"
PATCH_DRY_RUN = "dry-run-requests"
DRY_RUN_REASON = "dry run: no store was changed, no evidence was signed"
STUCK = (StoreStatus.FAILED_NEEDS_ATTENTION, StoreStatus.INCOMPLETE)


@workflow.defn(name="DataSubjectRequest")
class DataSubjectRequestWorkflow(
    StoreSteps, StoreChecks, StoreDecisions, Clock, Outside, Projecting
):
    """One workflow per request, from receipt to its end state."""

    @workflow.init
    def __init__(self, inp: DsrInput) -> None:
        self._inp = inp
        self._fingerprint = fingerprint(inp)
        self._status = RequestStatus.RECEIVED
        self._reason = ""
        self._policy: Policy | None = None
        self._original_due = due_date(inp.received_at, inp.regulation)
        self._due_at = self._original_due
        self._extended = False
        self._overdue = False
        self._verified: IdentityVerification | None = None
        self._approved: Decision | None = None
        self._denied: Denial | None = None
        self._hold: Decision | None = None
        self._cancel: Decision | None = None
        self._executing = False
        self._finishing = False
        self._finished = False
        self._plan: Plan | None = None
        self._identities: list[Identity] = []
        self._stores: dict[str, StorePlan] = {}
        self._outcomes: dict[str, StoreOutcome] = {}
        self._decisions: dict[str, StoreDecision] = {}
        self._actions: list[HumanAction] = []
        self._artifact: ArtifactRef | None = None
        self._seq = 0
        self._resume: dict[str, StoreReceipt] = {}  # verb succeeded, a check failed: retry here
        self._resolved: dict[str, int] = {}  # identifiers each identity source found
        self._warned: set[tuple[str, str]] = set()
        self._dry_settled: set[str] = set()  # a dry run's stores that failed (nobody is asked)
        # People's actions whose update is not yet durably accepted: not projected until it is.
        self._unconfirmed: set[int] = set()

    # -- run -------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: DsrInput) -> DsrResult:
        """Run the request to its end state."""
        refused = self._start_refused()
        if refused is not None:
            return await self._reject_start(refused)
        workflow.upsert_search_attributes(
            [DSR_TYPE.value_set(str(inp.request_type)), DSR_DUE.value_set(self._due_at)]
        )
        self._policy = await workflow.execute_activity(
            "get_policy",
            PolicyInput(inp.request_id, str(inp.request_type)),
            result_type=Policy,
            start_to_close_timeout=SHORT,
            retry_policy=SHORT_RETRY,
        )
        clock = asyncio.create_task(self._watch_deadlines())
        evicted = False
        try:
            try:
                await self._lifecycle()
            except asyncio.CancelledError:
                if not await self._cancelled_outside():
                    raise
        except GeneratorExit:  # dropped from the worker's cache (e.g. terminated): no awaiting
            evicted = True
            raise
        finally:
            self._finished = True
            if not evicted:
                await clock
        # Let people's updates that arrived at the very end (a cancel, a last decision) finish
        # and answer their callers before the workflow closes.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return DsrResult(
            request_id=inp.request_id,
            status=self._status,
            stores=list(self._outcomes.values()),
            artifact=self._artifact,
            reason=self._reason,
        )

    async def _lifecycle(self) -> None:
        policy = self._policy
        assert policy is not None
        if self._inp.dry_run and workflow.patched(PATCH_DRY_RUN):
            # A dry run changes nothing and discloses only counts to the person who started it:
            # it passes no gates, and says so in the request's history.
            self._record(WORKLOAD, "dry_run", "gates not applied; every change is rolled back")
            return await self._run_stores()
        if policy.identity_verification:
            await self._set_status(RequestStatus.AWAITING_VERIFICATION)
            expires = self._inp.received_at + timedelta(seconds=policy.verification_timeout_s)
            remaining = (expires - workflow.now()).total_seconds()
            verified = lambda: self._verified is not None or self._ended_early()  # noqa: E731
            try:
                # Check first: a cancel or denial that already arrived must not read as expiry.
                if not verified():
                    if remaining <= 0:
                        raise TimeoutError
                    await workflow.wait_condition(verified, timeout=timedelta(seconds=remaining))
            except TimeoutError:
                days = policy.verification_timeout_s / 86400
                await self._notify("expired", detail="identity not verified")
                return await self._end(
                    RequestStatus.EXPIRED, f"identity not verified within {days:g} days"
                )
        if policy.approval and not self._ended_early():
            await self._set_status(RequestStatus.AWAITING_APPROVAL)
            await workflow.wait_condition(lambda: self._approved is not None or self._ended_early())
        if await self._ended_before_execution():
            return
        await self._wait_for_release()
        if await self._ended_before_execution():  # a denial or cancel may come during a hold
            return

        await self._run_stores()

    async def _run_stores(self) -> None:
        self._executing = True
        await self._set_status(RequestStatus.RUNNING)
        await self._execute()
        self._finishing = True  # from here on there is nothing left to cancel
        self._artifact = await self._produce_result()
        if self._cancel is not None:
            return await self._end(RequestStatus.CANCELLED, self._cancel.reason)
        await self._end(RequestStatus.COMPLETED, DRY_RUN_REASON if self._inp.dry_run else "")

    async def _ended_before_execution(self) -> bool:
        if self._denied is not None:
            d = self._denied
            await self._end(RequestStatus.DENIED, f"{d.ground}: {d.note}".rstrip(": "))
            return True
        if self._cancel is not None:
            await self._end(RequestStatus.CANCELLED, self._cancel.reason)
            return True
        return False

    def _ended_early(self) -> bool:
        return self._cancel is not None or self._denied is not None

    async def _wait_for_release(self) -> None:
        """A legal hold pauses erasure until released (or the request is cancelled)."""
        if self._inp.request_type != RequestType.ERASURE or self._hold is None:
            return
        await self._set_status(RequestStatus.ON_HOLD)
        await workflow.wait_condition(lambda: self._hold is None or self._ended_early())
        # Before execution the caller moves the status on; during it, stores resume.
        if self._executing:
            await self._set_status(self._running_status())
        elif not workflow.patched(PATCH_RELEASE_STATUS):
            # Requests started before the patch showed "received" for a moment here.
            await self._set_status(RequestStatus.RECEIVED)

    async def _end(self, status: RequestStatus, reason: str) -> None:
        self._reason = reason
        for name, outcome in self._outcomes.items():
            if name in self._dry_settled:
                continue  # a dry run's failure is its answer: shown as it was
            if not outcome.status.terminal:  # cancelled while pending or waiting for a person
                self._outcomes[name] = replace(outcome, status=StoreStatus.CANCELLED)
        await self._set_status(status)

    # -- query -----------------------------------------------------------------------

    @workflow.query
    def status(self) -> StatusView:
        """Where the request stands, store by store, with its clock and history."""
        return StatusView(
            request_id=self._inp.request_id,
            request_type=self._inp.request_type,
            status=self._status,
            stores=list(self._outcomes.values()),
            artifact=self._artifact,
            received_at=self._inp.received_at,
            due_at=self._due_at,
            overdue=self._overdue,
            extended=self._extended,
            on_hold=self._hold is not None,
            reason=self._reason,
            actions=list(self._actions),
        )

    # -- people's actions ------------------------------------------------------------

    @workflow.update
    async def submit(self, sub: Submission) -> SubmissionAck:
        """Acknowledge a (possibly retried) submission; sent with update-with-start.

        Answers once the request has reached its first state past ``received`` (a gate, or
        running), so whoever submitted can act on it at once.
        """
        await workflow.wait_condition(lambda: self._status != RequestStatus.RECEIVED)
        return SubmissionAck(
            self._inp.request_id, self._status, self._inp.received_at, self._due_at
        )

    @submit.validator
    def _check_submit(self, sub: Submission) -> None:
        if sub.fingerprint != self._fingerprint:
            raise ValueError(f"request id {self._inp.request_id} already names a different request")

    @workflow.update
    async def verify_identity(self, v: IdentityVerification) -> UpdateAck:
        """Record that a person verified the requester's identity."""
        self._verified = v
        detail = f"method={v.method}" + (f" ref={v.reference}" if v.reference else "")
        return await self._act(v.verifier, "identity_verified", detail)

    @verify_identity.validator
    def _check_verify(self, v: IdentityVerification) -> None:
        self._expect(RequestStatus.AWAITING_VERIFICATION, "identity verification")
        assert self._policy is not None
        if v.method not in self._policy.verification_methods:
            raise ValueError(
                f"method {v.method!r} is not accepted (use one of "
                f"{', '.join(self._policy.verification_methods)})"
            )
        need_actor(v.verifier)

    @workflow.update
    async def approve(self, d: Decision) -> UpdateAck:
        """Approve execution."""
        self._approved = d
        return await self._act(d.actor, "approved", d.reason)

    @approve.validator
    def _check_approve(self, d: Decision) -> None:
        self._expect(RequestStatus.AWAITING_APPROVAL, "approval")
        if self._denied is not None or self._approved is not None or self._cancel is not None:
            raise ValueError("the request was already decided")
        need_actor(d.actor)

    @workflow.update
    async def deny(self, d: Denial) -> UpdateAck:
        """Deny the request, citing the ground."""
        self._denied = d
        return await self._act(d.actor, "denied", f"{d.ground} {d.note}".strip())

    @deny.validator
    def _check_deny(self, d: Denial) -> None:
        if self._executing or self._status.terminal:
            raise ValueError(f"request is {self._status}; it can only be denied before execution")
        if self._denied is not None or self._approved is not None:
            raise ValueError(
                "the request was already " + ("denied" if self._denied else "approved")
            )
        need_actor(d.actor)
        if not d.ground.strip():
            raise ValueError("a denial must cite its ground (e.g. 'Art. 12(5)(b)')")

    def _expect(self, status: RequestStatus, what: str) -> None:
        if self._status != status:
            raise ValueError(f"request is {self._status}, not waiting for {what}")

    # -- state -----------------------------------------------------------------------

    def _record(self, actor: str, action: str, detail: str = "", store: str | None = None) -> None:
        self._actions.append(
            HumanAction(len(self._actions) + 1, workflow.now(), actor, action, store, detail)
        )

    def _running_status(self) -> RequestStatus:
        if self._hold is not None and self._inp.request_type == RequestType.ERASURE:
            return RequestStatus.ON_HOLD
        if self._inp.dry_run:
            return RequestStatus.RUNNING  # nobody is asked to act on a dry run
        stuck = any(o.status in STUCK for o in self._outcomes.values())
        return RequestStatus.NEEDS_ATTENTION if stuck else RequestStatus.RUNNING

    async def _update_store(self, store: str, **changes: object) -> None:
        self._outcomes[store] = replace(self._outcomes[store], **changes)  # type: ignore[arg-type]
        if self._executing and not self._status.terminal:
            self._status = self._running_status()
        await self._set_status(self._status)

    async def _set_status(self, status: RequestStatus, *, project: bool = True) -> None:
        self._status = status
        shown = RequestStatus.OVERDUE if self._overdue and not status.terminal else status
        workflow.upsert_search_attributes([DSR_STATUS.value_set(str(shown))])
        if project:
            await self._project()

    async def _notify(self, kind: str, stores: list[str] | None = None, detail: str = "") -> None:
        """Put a notification in the outbox; a broken outbox must not stop the clock."""
        try:
            await workflow.execute_activity(
                "notify",
                Notification(self._inp.request_id, kind, self._due_at, stores or [], detail),
                result_type=bool,
                start_to_close_timeout=SHORT,
                retry_policy=NOTIFY_RETRY,
            )
        except ActivityError:
            self._record("system:outbox", "notification_failed", kind)
