"""What the request does when something reaches it from outside dsrflow.

A mixin of ``DataSubjectRequestWorkflow`` (its state lives there):

- a start without a valid caller assertion ends at once as ``rejected``: nothing of its input
  is acted on or projected, and the refusal is recorded (and audited by the projection);
- an update without one is refused in its handler and the refusal recorded the same way
  (see ``dsrflow.workflows.guard``);
- a Temporal cancel (the UI's button, ``temporal workflow cancel``) is handled like a person's
  cancel: recorded, the stores that had not finished marked cancelled, the evidence bundle or
  package built if execution had started, and the request projected ``cancelled``.

Terminate and timeout cannot be handled inside a workflow; the reconciler finds them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dsrflow.domain import DsrResult, RequestStatus
    from dsrflow.lifecycle import Decision

from dsrflow.workflows.common import DSR_STATUS
from dsrflow.workflows.guard import PATCH_CALLER_CHECK, START_PROBLEM

if TYPE_CHECKING:
    from dsrflow.workflows.dsr import DataSubjectRequestWorkflow as _Base
else:
    _Base = object

PATCH_OUTSIDE_CANCEL = "outside-cancel-handled"
UNVERIFIED = "temporal:unverified"
"""The actor recorded for a call that did not prove it came through dsrflow."""
OUTSIDE_CANCEL = "temporal:cancel"
OUTSIDE_CANCEL_REASON = "cancelled from outside dsrflow (a Temporal workflow cancel)"
MAX_CLAIMED = 60


class Outside(_Base):
    """Refusals of unasserted calls, and a cancel that came through Temporal."""

    def _start_refused(self) -> str | None:
        """Why this run's start was refused, or None (replays of older runs: never)."""
        problem = getattr(self, START_PROBLEM, None)
        if problem is None or not workflow.patched(PATCH_CALLER_CHECK):
            return None
        return problem

    async def _reject_start(self, problem: str) -> DsrResult:
        """End at once as ``rejected``; nothing of the input but its id and clock is projected."""
        self._reason = f"start refused: {problem}"
        self._status = RequestStatus.REJECTED
        self._record(UNVERIFIED, "start_rejected", problem)
        workflow.upsert_search_attributes([DSR_STATUS.value_set(str(self._status))])
        await self._project()
        return DsrResult(
            request_id=self._inp.request_id,
            status=self._status,
            stores=[],
            artifact=None,
            reason=self._reason,
        )

    async def _refuse(self, operation: str, actor: str, problem: str) -> None:
        """Record an update refused for want of a caller assertion (audited by the projection)."""
        claimed = actor[:MAX_CLAIMED] if actor else "no actor"
        self._record(UNVERIFIED, "caller_refused", f"{operation} claimed by {claimed}: {problem}")
        await self._project(durable=True)

    async def _cancelled_outside(self) -> bool:
        """Handle a Temporal cancel; False if this run predates the handling (re-raise)."""
        if not workflow.patched(PATCH_OUTSIDE_CANCEL):
            return False
        if self._status.terminal:
            return True
        self._record(OUTSIDE_CANCEL, "cancelled_outside_dsrflow", OUTSIDE_CANCEL_REASON)
        if self._cancel is None:
            self._cancel = Decision(OUTSIDE_CANCEL, OUTSIDE_CANCEL_REASON)
        if self._executing and not self._finishing:
            # Some stores acted: what was done is evidenced like any cancelled run.
            self._finishing = True
            self._artifact = await self._produce_result()
        await self._end(RequestStatus.CANCELLED, self._cancel.reason)
        return True
