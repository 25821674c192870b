"""Client-side operations on requests, shared by the CLI, the API and tests.

Submission uses update-with-start: the ``submit`` update is sent together with a start that
reuses a running workflow of the same id, so a retried submit (a timeout, a double click, a
queue redelivery) lands on the same request instead of creating a second one. A different
request under an existing id is refused by the update's validator.

Every call is signed with the caller assertion by the client's interceptor
(``dsrflow.assertions.CallerSigner``, installed by ``Runtime.client``). An action's outcome is one
of three, and the application layer audits each as what it is: accepted (an ``UpdateAck``),
refused (``ActionRefused``: nothing happened), or not confirmed (``ActionNotConfirmed``: the
workflow did not answer in time; it may or may not have accepted it, and the ledger shows it
only once the workflow did).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from dsrflow.domain import DsrInput, DsrResult, StatusView
from dsrflow.errors import Conflict, NotFound, Unavailable, UserError
from dsrflow.lifecycle import Submission, SubmissionAck, UpdateAck, due_date, fingerprint
from dsrflow.redact import first_line

WORKFLOW = "DataSubjectRequest"
_TASK_FAILING = "Workflow Task in failed state"
"""Temporal's answer to an update whose workflow's task keeps failing (it has no own code)."""
DSR_TYPE = SearchAttributeKey.for_keyword("DsrType")
DSR_DUE = SearchAttributeKey.for_datetime("DsrDueAt")
"""The search attributes a start sets (the workflow's own keys, ``dsrflow.workflows.common``):
the workflow then need not upsert them (one command and one history event less per request)."""


class SubmitRefused(Conflict):
    """Temporal refused a submission for certain: no request was started by it."""


class ActionRefused(Conflict):
    """The workflow refused a person's action; nothing was recorded as done."""


class ActionNotConfirmed(Unavailable):
    """No worker confirmed a person's action in time: record the attempt, not the action."""


@dataclass(frozen=True)
class Submitted:
    """Outcome of a submit: the acknowledgement and whether this call created the request."""

    ack: SubmissionAck
    created: bool


class RequestClient:
    """Submit requests and act on them through Temporal."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    def handle(self, request_id: str) -> WorkflowHandle[Any, DsrResult]:
        """The workflow handle of a request."""
        return self.client.get_workflow_handle(request_id, result_type=DsrResult)

    async def submit(self, inp: DsrInput) -> Submitted:
        """Start the request, or find it if this exact submission already started it.

        Raises:
            UserError: The id names a different request, or a request that has already ended.
        """
        # Started by name, so the SDK cannot infer the result type that result_type= fixes.
        op: WithStartWorkflowOperation[Any, DsrResult] = WithStartWorkflowOperation(
            WORKFLOW,
            inp,
            id=inp.request_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            result_type=DsrResult,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(DSR_TYPE, str(inp.request_type)),
                    SearchAttributePair(DSR_DUE, due_date(inp.received_at, inp.regulation)),
                ]
            ),
        )
        try:
            ack = await self.client.execute_update_with_start_workflow(
                "submit",
                Submission(fingerprint(inp)),
                start_workflow_operation=op,
                result_type=SubmissionAck,
            )
        except WorkflowAlreadyStartedError:
            raise SubmitRefused(
                f"request {inp.request_id} already exists and has ended; not submitted again"
            ) from None
        except WorkflowUpdateFailedError as exc:
            raise SubmitRefused(f"request {inp.request_id}: {_reason(exc)}") from None
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            raise Unavailable(
                f"request {inp.request_id}: no worker answered in time; the request may exist "
                f"already. Run the same command again with --request-id {inp.request_id} "
                "(it will not create a second one), and check that a worker is running"
            ) from None
        except RPCError as exc:
            if _TASK_FAILING not in str(exc):
                raise
            # The workflow was started but its worker cannot run it now (e.g. the ledger, which
            # holds the payload keys, is unreachable): the request exists and runs once the
            # worker recovers. Seen by the ledger outage fault test; "refused" would be untrue
            # and invite a second submission under a new id.
            raise Unavailable(
                f"request {inp.request_id}: the worker could not take it now (its workflow task "
                "is failing; see the worker's log); the request may exist already. Run the same "
                f"command again with --request-id {inp.request_id} (it will not create a second "
                "one) once the worker is healthy",
                public="the request could not be confirmed now; try again later",
            ) from None
        return Submitted(ack, created=ack.received_at == inp.received_at)

    async def act(self, request_id: str, update: str, arg: object) -> UpdateAck:
        """Send one of the people's-action updates; a refusal says why.

        Raises:
            ActionRefused: The workflow refused the action.
            ActionNotConfirmed: No worker answered in time (the action may still be accepted).
            UserError: The request does not exist or has ended.
        """
        handle = self.handle(request_id)
        try:
            # By name, the SDK types the answer as Any; result_type= makes it an UpdateAck.
            ack: UpdateAck = await handle.execute_update(update, arg, result_type=UpdateAck)
            return ack
        except WorkflowUpdateFailedError as exc:
            raise ActionRefused(f"request {request_id}: {update} refused: {_reason(exc)}") from None
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            raise ActionNotConfirmed(
                f"request {request_id}: no worker answered {update} in time; is a worker running?"
            ) from None
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                ended = await self._ended_status(handle)
                if ended:
                    raise Conflict(
                        f"request {request_id} has ended ({ended}); {update} is no longer possible"
                    ) from None
            raise _rpc_error(request_id, exc) from None

    async def _ended_status(self, handle: WorkflowHandle[Any, Any]) -> str | None:
        """The request's final status if its workflow has closed (None if it does not exist)."""
        try:
            desc = await handle.describe()
        except RPCError:
            return None
        if desc.status is None or desc.status.name == "RUNNING":
            return None
        try:
            view = await handle.query("status", result_type=StatusView)
        except (RPCError, WorkflowQueryFailedError):
            return desc.status.name.lower()
        return str(view.status)

    async def closed_as(self, request_id: str) -> str | None:
        """How the request's workflow closed (``terminated``...), or None while it runs.

        A workflow can close without the request reaching an end state (terminated, timed out):
        its status query then keeps showing the last state, so watchers ask this too.
        """
        try:
            desc = await self.handle(request_id).describe()
        except RPCError as exc:
            raise _rpc_error(request_id, exc) from None
        if desc.status is None or desc.status.name == "RUNNING":
            return None
        return desc.status.name.lower()

    async def status(self, request_id: str) -> StatusView:
        """The live status of a request (a query; works on finished requests too).

        Raises:
            UserError: No such request.
        """
        try:
            view: StatusView = await self.handle(request_id).query("status", result_type=StatusView)
            return view
        except WorkflowQueryFailedError as exc:
            raise UserError(
                f"request {request_id}: its live state cannot be read ({first_line(str(exc))}); "
                "if it was purged, `dsrflow request show` still has the ledger's record"
            ) from None
        except RPCError as exc:
            raise _rpc_error(request_id, exc) from None


def _reason(exc: WorkflowUpdateFailedError) -> str:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause)


def _rpc_error(request_id: str, exc: RPCError) -> UserError:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return NotFound(f"request {request_id}: not found")
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return Unavailable(f"request {request_id}: Temporal did not answer ({exc.status.name})")
    return UserError(f"request {request_id}: Temporal refused the call ({exc.status.name})")
