"""``DataSubjectRequestWorkflow``: the durable life of one data-subject request.

A thin driver over ``RequestMachine`` (``dsrflow.workflows.machine``), which holds the request's
state and rules without Temporal. The driver feeds it events (people's updates, activity
results, timers) and carries out what it asks for, through collaborators: ``Publisher``
(status, ledger snapshots, notifications), ``StoreRunner`` (plan, identities, each store, the
result), ``DeadlineWatch`` (the legal clock) and ``Outside`` (calls from outside dsrflow).
Activities are called through the typed stubs in ``acts``.

The workflow id is the request id, so Temporal itself refuses a second request under the same
id; ``submit`` (sent with update-with-start) makes a retried submission land on the same request.
Life of a request: gates (identity verification with expiry, optional approval), legal hold,
planning, identity resolution, fan-out in the catalog's order with a clear end state per store,
the result (access package or evidence bundle). A deadline clock runs alongside all of it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RawValue

from dsrflow.workflows import acts
from dsrflow.workflows.deadlines import DeadlineWatch
from dsrflow.workflows.execution import StoreRunner
from dsrflow.workflows.intake import decode_input
from dsrflow.workflows.machine import DRY_RUN_REASON, WORKLOAD, RequestMachine
from dsrflow.workflows.outside import Outside
from dsrflow.workflows.publishing import Publisher

with workflow.unsafe.imports_passed_through():
    from dsrflow.batches import BatchStoreResult
    from dsrflow.domain import DsrResult, RequestStatus, StatusView
    from dsrflow.lifecycle import (
        Decision,
        Denial,
        ExtensionRequest,
        IdentityVerification,
        PolicyInput,
        StoreDecision,
        Submission,
        SubmissionAck,
        UpdateAck,
    )

PATCH_RELEASE_STATUS = "release-keeps-status"
PATCH_DRY_RUN = "dry-run-requests"
PATCH_FOUR_EYES = "four-eyes"
__all__ = ["DRY_RUN_REASON", "DataSubjectRequestWorkflow"]


@workflow.defn(name="DataSubjectRequest")
class DataSubjectRequestWorkflow:
    """One workflow per request, from receipt to its end state."""

    @workflow.init
    def __init__(self, raw: RawValue) -> None:
        # The input arrives raw: one that is not a dsrflow request (a start from outside
        # dsrflow) must end the request, not fail every workflow task (see ``intake``).
        inp, self._undecodable = decode_input(raw)
        self._m = RequestMachine(inp)
        self._pub = Publisher(self._m)
        self._runner = StoreRunner(self._m, self._pub)
        self._outside = Outside(self._m, self._pub, self._runner)

    # -- run -------------------------------------------------------------------------

    @workflow.run
    async def run(self, raw: RawValue) -> DsrResult:
        """Run the request to its end state."""
        m, pub = self._m, self._pub
        pub.is_lean()  # the run's first patch question (see ``Publisher.patched``)
        refused = self._outside.start_refused(self) or self._undecodable
        if refused is not None:
            rejected = await self._outside.reject_start(refused)
            pub.stop()
            return rejected
        pub.publish_start()
        m.start(await acts.get_policy(PolicyInput(m.inp.request_id, str(m.inp.request_type))))
        # Decided once, here (a validator may not call `patched`): the approve validator
        # refuses the identity's verifier as approver. A request started before the rule
        # existed replays without it, as it ran.
        if m.wants_four_eyes() and pub.patched(PATCH_FOUR_EYES):
            m.four_eyes = True
        clock = asyncio.create_task(DeadlineWatch(m, pub, self._runner.escalate).watch())
        evicted = False
        try:
            try:
                await self._lifecycle()
            except asyncio.CancelledError:
                if not await self._outside.cancelled():
                    raise
        except GeneratorExit:  # dropped from the worker's cache (e.g. terminated): no awaiting
            evicted = True
            raise
        finally:
            m.finished = True
            if not evicted:
                await clock
        # Let people's updates that arrived at the very end (a cancel, a last decision) finish
        # and answer their callers before the workflow closes.
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._runner.batch.finish()  # a batch's member: the batch stops waiting for it
        pub.stop()
        return m.result()

    async def _lifecycle(self) -> None:
        m, pub = self._m, self._pub
        assert m.policy is not None
        if m.dry_run and pub.patched(PATCH_DRY_RUN):
            # A dry run changes nothing and discloses only counts to the person who started it:
            # it passes no gates, and says so in the request's history.
            pub.record(WORKLOAD, "dry_run", "gates not applied; every change is rolled back")
            return await self._run_stores()
        if m.policy.identity_verification:
            await pub.set_status(RequestStatus.AWAITING_VERIFICATION)
            remaining = (m.verification_expires() - workflow.now()).total_seconds()
            try:
                # Check first: a cancel or denial that already arrived must not read as expiry.
                if not m.gate_verified():
                    if remaining <= 0:
                        raise TimeoutError
                    await workflow.wait_condition(
                        m.gate_verified, timeout=timedelta(seconds=remaining)
                    )
            except TimeoutError:
                await pub.notify("expired", detail="identity not verified")
                return await pub.end(RequestStatus.EXPIRED, m.expiry_reason())
        if m.policy.approval and not m.ended_early():
            await pub.set_status(RequestStatus.AWAITING_APPROVAL)
            await workflow.wait_condition(m.gate_approved)
        if await self._ended_before_execution():
            return
        await self._wait_for_release()
        if await self._ended_before_execution():  # a denial or cancel may come during a hold
            return
        await self._run_stores()

    async def _run_stores(self) -> None:
        m = self._m
        m.executing = True
        await self._pub.set_status(RequestStatus.RUNNING)
        await self._runner.execute()
        m.finishing = True  # from here on there is nothing left to cancel
        m.artifact = await self._runner.produce_result()
        if m.cancel is not None:
            return await self._pub.end(RequestStatus.CANCELLED, m.cancel.reason)
        await self._pub.end(RequestStatus.COMPLETED, DRY_RUN_REASON if m.dry_run else "")

    async def _ended_before_execution(self) -> bool:
        ending = self._m.ending_before_execution()
        if ending is None:
            return False
        await self._pub.end(*ending)
        return True

    async def _wait_for_release(self) -> None:
        """A legal hold pauses erasure until released (or the request is cancelled)."""
        m = self._m
        if not m.held():
            return
        await self._pub.set_status(RequestStatus.ON_HOLD)
        await workflow.wait_condition(lambda: m.hold is None or m.ended_early())
        # Before execution the caller moves the status on; during it, stores resume.
        if m.executing:
            await self._pub.set_status(m.running_status())
        elif not self._pub.patched(PATCH_RELEASE_STATUS):
            # Requests started before the patch showed "received" for a moment here.
            await self._pub.set_status(RequestStatus.RECEIVED)

    # -- query -----------------------------------------------------------------------

    @workflow.query
    def status(self) -> StatusView:
        """Where the request stands, store by store, with its clock and history."""
        return self._m.view()

    @workflow.signal(name="batch_result")
    def batch_result(self, result: BatchStoreResult) -> None:
        """The erasure batch's answer for a store this request handed it (counts only)."""
        self._runner.batch.deliver(result)

    # -- people's actions: the machine checks (validators) and applies (handlers) -----

    @workflow.update
    async def submit(self, sub: Submission) -> SubmissionAck:
        """Acknowledge a (possibly retried) submission; sent with update-with-start.

        Answers once the request has reached its first state past ``received`` (a gate, or
        running), so whoever submitted can act on it at once.
        """
        m = self._m
        await workflow.wait_condition(lambda: m.status != RequestStatus.RECEIVED)
        return SubmissionAck(m.inp.request_id, m.status, m.inp.received_at, m.due_at)

    @submit.validator
    def _check_submit(self, sub: Submission) -> None:
        self._m.check_submit(sub.fingerprint)

    @workflow.update
    async def verify_identity(self, v: IdentityVerification) -> UpdateAck:
        """Record that a person verified the requester's identity."""
        return await self._apply("verify_identity", v)

    @verify_identity.validator
    def _check_verify(self, v: IdentityVerification) -> None:
        self._check("verify_identity", v)

    @workflow.update
    async def approve(self, d: Decision) -> UpdateAck:
        """Approve execution."""
        return await self._apply("approve", d)

    @approve.validator
    def _check_approve(self, d: Decision) -> None:
        self._check("approve", d)

    @workflow.update
    async def deny(self, d: Denial) -> UpdateAck:
        """Deny the request, citing the ground."""
        return await self._apply("deny", d)

    @deny.validator
    def _check_deny(self, d: Denial) -> None:
        self._check("deny", d)

    @workflow.update
    async def extend(self, e: ExtensionRequest) -> UpdateAck:
        """Extend the deadline once, before the original due date, with a recorded reason."""
        act = self._m.accept("extend", e)
        self._pub.publish_due()
        return await self._pub.act(act)

    @extend.validator
    def _check_extend(self, e: ExtensionRequest) -> None:
        self._check("extend", e)

    @workflow.update
    async def hold(self, d: Decision) -> UpdateAck:
        """Put the request under legal hold: erasure pauses until released."""
        return await self._apply("hold", d)

    @hold.validator
    def _check_hold(self, d: Decision) -> None:
        self._check("hold", d)

    @workflow.update
    async def release(self, d: Decision) -> UpdateAck:
        """Release the legal hold."""
        return await self._apply("release", d)

    @release.validator
    def _check_release(self, d: Decision) -> None:
        self._check("release", d)

    @workflow.update
    async def cancel(self, d: Decision) -> UpdateAck:
        """Cancel: before execution everything stops; after, no further store starts."""
        return await self._apply("cancel", d)

    @cancel.validator
    def _check_cancel(self, d: Decision) -> None:
        self._check("cancel", d)

    @workflow.update
    async def retry_store(self, d: StoreDecision) -> UpdateAck:
        """Run a failed store again (after someone fixed it)."""
        return await self._apply("retry_store", d)

    @retry_store.validator
    def _check_retry(self, d: StoreDecision) -> None:
        self._check("retry_store", d)

    @workflow.update
    async def skip_store(self, d: StoreDecision) -> UpdateAck:
        """Move a stuck store on without acting in it; the reason is recorded."""
        return await self._apply("skip_store", d)

    @skip_store.validator
    def _check_skip(self, d: StoreDecision) -> None:
        self._check("skip_store", d)

    @workflow.update
    async def exempt_store(self, d: StoreDecision) -> UpdateAck:
        """Exempt a store from erasure under Art. 17(3); its data is restricted, not erased."""
        return await self._apply("exempt_store", d)

    @exempt_store.validator
    def _check_exempt(self, d: StoreDecision) -> None:
        self._check("exempt_store", d)

    @workflow.update
    async def complete_task(self, d: StoreDecision) -> UpdateAck:
        """Close a manual store's task: done (an erasure: how, which certificate) or not found."""
        return await self._apply("complete_task", d)

    @complete_task.validator
    def _check_complete(self, d: StoreDecision) -> None:
        self._check("complete_task", d)

    def _check(self, update: str, arg: object) -> None:
        self._m.check(update, arg, workflow.now())

    async def _apply(self, update: str, arg: object) -> UpdateAck:
        return await self._pub.act(self._m.accept(update, arg))

    async def _refuse(self, operation: str, actor: str, problem: str) -> None:
        """Record an update refused by the guard for want of a caller assertion."""
        await self._outside.refuse(operation, actor, problem)
