"""What the request does when something reaches it from outside dsrflow.

- a start without a valid caller assertion, or whose input is not a dsrflow request, ends at
  once as ``rejected``: nothing of its input is acted on or projected, and the refusal is
  recorded (and audited by the projection);
- an update without a valid assertion is refused in its handler and the refusal recorded the
  same way (see ``dsrflow.workflows.guard``);
- a Temporal cancel (the UI's button, ``temporal workflow cancel``) is handled like a person's
  cancel: recorded, the stores that had not finished marked cancelled, the evidence bundle or
  package built if execution had started, and the request projected ``cancelled``.

Terminate and timeout cannot be handled inside a workflow; the reconciler finds them.
"""

from __future__ import annotations

from temporalio import workflow

from dsrflow.workflows.execution import StoreRunner
from dsrflow.workflows.guard import PATCH_CALLER_CHECK, START_PROBLEM
from dsrflow.workflows.machine import RequestMachine
from dsrflow.workflows.publishing import Publisher

with workflow.unsafe.imports_passed_through():
    from dsrflow.domain import DsrResult, RequestStatus

PATCH_OUTSIDE_CANCEL = "outside-cancel-handled"
UNVERIFIED = "temporal:unverified"
"""The actor recorded for a call that did not prove it came through dsrflow."""
OUTSIDE_CANCEL = "temporal:cancel"
OUTSIDE_CANCEL_REASON = "cancelled from outside dsrflow (a Temporal workflow cancel)"
MAX_CLAIMED = 60


class Outside:
    """Refusals of unasserted calls, and a cancel that came through Temporal.

    Args:
        machine: The request's state.
        pub: Publishes each change.
        runner: Builds the result of a request cancelled during execution.
    """

    def __init__(self, machine: RequestMachine, pub: Publisher, runner: StoreRunner) -> None:
        self.m = machine
        self.pub = pub
        self.runner = runner

    def start_refused(self, instance: object) -> str | None:
        """Why this run's start was refused, or None (replays of older runs: never)."""
        problem: str | None = getattr(instance, START_PROBLEM, None)
        if problem is None or not self.pub.patched(PATCH_CALLER_CHECK):
            return None
        return problem

    async def reject_start(self, problem: str) -> DsrResult:
        """End at once as ``rejected``; nothing of the input but its id and clock is projected."""
        self.m.reject_start(problem)
        self.pub.record(UNVERIFIED, "start_rejected", problem)
        await self.pub.set_status(self.m.status)
        return self.m.result()

    async def refuse(self, operation: str, actor: str, problem: str) -> None:
        """Record an update refused for want of a caller assertion (audited by the projection)."""
        claimed = actor[:MAX_CLAIMED] if actor else "no actor"
        self.pub.record(
            UNVERIFIED, "caller_refused", f"{operation} claimed by {claimed}: {problem}"
        )
        await self.pub.project(durable=True)

    async def cancelled(self) -> bool:
        """Handle a Temporal cancel; False if this run predates the handling (re-raise)."""
        m = self.m
        if not self.pub.patched(PATCH_OUTSIDE_CANCEL):
            return False
        if m.status.terminal:
            return True
        self.pub.record(OUTSIDE_CANCEL, "cancelled_outside_dsrflow", OUTSIDE_CANCEL_REASON)
        m.cancelled_outside(OUTSIDE_CANCEL, OUTSIDE_CANCEL_REASON)
        if m.executing and not m.finishing:
            # Some stores acted: what was done is evidenced like any cancelled run.
            m.finishing = True
            m.artifact = await self.runner.produce_result()
        assert m.cancel is not None
        await self.pub.end(RequestStatus.CANCELLED, m.cancel.reason)
        return True
