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

A refusal that says nothing about the action is retried here, with a bounded backoff, under the
same update id (Temporal answers a repeated id with the first one's outcome, so an action is
never applied twice): a workflow task that failed or timed out because the worker is behind
(``FAILED_PRECONDITION ... Workflow Task in failed state``), an update the server lost
(``NOT_FOUND`` for a workflow that runs, an aborted update), an answer that did not come in
time. Only once the patience is spent does the caller hear of it, in words that say what is
known: whether a worker polls the task queue, and that the action may still take effect.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
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
DSR_TYPE = SearchAttributeKey.for_keyword("DsrType")
DSR_DUE = SearchAttributeKey.for_datetime("DsrDueAt")
"""The search attributes a start sets (the workflow's own keys, ``dsrflow.workflows.common``):
the workflow then need not upsert them (one command and one history event less per request)."""
T = TypeVar("T")

# Refusals that say nothing about the action itself: the same call may succeed a moment later.
TRANSIENT = frozenset({
    RPCStatusCode.FAILED_PRECONDITION,  # the workflow task failed or timed out; it is retried
    RPCStatusCode.ABORTED,  # an update the server dropped (its workflow was reloaded)
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.DEADLINE_EXCEEDED,
})  # fmt: skip


class SubmitRefused(Conflict):
    """Temporal refused a submission for certain: no request was started by it."""


class ActionRefused(Conflict):
    """The workflow refused a person's action; nothing was recorded as done."""


class ActionNotConfirmed(Unavailable):
    """No worker confirmed a person's action in time: record the attempt, not the action."""


@dataclass(frozen=True)
class Patience:
    """How long a call keeps being sent again while Temporal refuses it for a passing reason.

    Attributes:
        total_s: The whole budget of one call, every attempt and pause included.
        attempt_s: The longest one attempt may wait for its answer.
        first_pause_s: The pause after the first refusal; it doubles up to ``max_pause_s``.
        max_pause_s: The longest pause between attempts.
    """

    total_s: float = 120.0
    attempt_s: float = 30.0
    first_pause_s: float = 0.25
    max_pause_s: float = 5.0


class _Passing(Exception):
    """A refusal worth another attempt; ``kind`` names it for the counters."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class Submitted:
    """Outcome of a submit: the acknowledgement and whether this call created the request."""

    ack: SubmissionAck
    created: bool


class RequestClient:
    """Submit requests and act on them through Temporal."""

    def __init__(
        self, client: Client, task_queue: str, *, patience: Patience | None = None
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.patience = patience or Patience()
        self.retries: Counter[str] = Counter()
        """Attempts sent again, by the kind of refusal (for benchmarks and tests)."""

    def handle(self, request_id: str) -> WorkflowHandle[Any, DsrResult]:
        """The workflow handle of a request."""
        return self.client.get_workflow_handle(request_id, result_type=DsrResult)

    async def submit(self, inp: DsrInput) -> Submitted:
        """Start the request, or find it if this exact submission already started it.

        Raises:
            UserError: The id names a different request, or a request that has already ended.
        """
        update_id = f"submit-{uuid.uuid4().hex}"

        async def once(timeout: float) -> SubmissionAck:
            # Started by name, so the SDK cannot infer the result type that result_type= fixes.
            # An operation is used once: every attempt builds its own.
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
                async with asyncio.timeout(timeout):
                    ack: SubmissionAck = await self.client.execute_update_with_start_workflow(
                        "submit",
                        Submission(fingerprint(inp)),
                        id=update_id,
                        start_workflow_operation=op,
                        result_type=SubmissionAck,
                        rpc_timeout=timedelta(seconds=timeout),
                    )
                    return ack
            except WorkflowAlreadyStartedError:
                raise SubmitRefused(
                    f"request {inp.request_id} already exists and has ended; not submitted again"
                ) from None
            except WorkflowUpdateFailedError as exc:
                raise SubmitRefused(f"request {inp.request_id}: {_reason(exc)}") from None
            except (WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError):
                _unless_cancelled()
                raise _Passing("no_answer", "no answer in time") from None
            except RPCError as exc:
                if exc.status in TRANSIENT:
                    raise _Passing(exc.status.name.lower(), first_line(exc.message)) from None
                raise
            finally:
                _settle(op)

        started = asyncio.get_running_loop().time()
        try:
            ack = await self._patiently(once)
        except _Passing as last:
            polled = await self._polled()
            waited = asyncio.get_running_loop().time() - started
            raise Unavailable(
                f"request {inp.request_id}: not confirmed after {waited:.0f} s "
                f"({_known(polled, self.task_queue, last)}); the request may exist already. Run "
                f"the same command again with --request-id {inp.request_id} (it will not create "
                "a second one)",
                public=f"request {inp.request_id}: not confirmed in time; it may exist already: "
                "submit it again under the same id (it will not create a second one)",
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
        # One id for every attempt: Temporal answers a repeated id with the first one's outcome.
        update_id = f"{update}-{uuid.uuid4().hex}"

        async def once(timeout: float) -> UpdateAck:
            try:
                async with asyncio.timeout(timeout):
                    # By name, the SDK types the answer as Any; result_type= makes it an UpdateAck.
                    ack: UpdateAck = await handle.execute_update(
                        update,
                        arg,
                        id=update_id,
                        result_type=UpdateAck,
                        rpc_timeout=timedelta(seconds=timeout),
                    )
                    return ack
            except WorkflowUpdateFailedError as exc:
                raise ActionRefused(
                    f"request {request_id}: {update} refused: {_reason(exc)}"
                ) from None
            except (WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError):
                _unless_cancelled()
                raise _Passing("no_answer", "no answer in time") from None
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    ended = await self._ended_status(handle)
                    if ended:
                        raise Conflict(
                            f"request {request_id} has ended ({ended}); {update} is no longer "
                            "possible"
                        ) from None
                    if await self._running(handle):  # the server lost the update: send it again
                        raise _Passing("lost", first_line(exc.message)) from None
                if exc.status in TRANSIENT:
                    raise _Passing(exc.status.name.lower(), first_line(exc.message)) from None
                raise _rpc_error(request_id, exc) from None

        started = asyncio.get_running_loop().time()
        try:
            return await self._patiently(once)
        except _Passing as last:
            polled = await self._polled()
            waited = asyncio.get_running_loop().time() - started
            raise ActionNotConfirmed(
                f"request {request_id}: {update} not confirmed after {waited:.0f} s "
                f"({_known(polled, self.task_queue, last)}); it "
                f"may still take effect: check `dsrflow request show {request_id}` before "
                "sending it again",
                public=f"request {request_id}: {update} not confirmed in time; it may still take "
                "effect: check the request before sending it again",
            ) from None

    async def _patiently(self, once: Callable[[float], Awaitable[T]]) -> T:
        """``once(timeout)`` until it answers.

        A passing refusal (``_Passing``) sends it again after a growing, jittered pause, within
        ``patience.total_s``; past that, the last refusal is raised.
        """
        loop = asyncio.get_running_loop()
        p = self.patience
        deadline = loop.time() + p.total_s
        pause = p.first_pause_s
        while True:
            remaining = deadline - loop.time()
            try:
                return await once(max(0.1, min(p.attempt_s, remaining)))
            except _Passing as refusal:
                if deadline - loop.time() <= pause:
                    raise
                self.retries[refusal.kind] += 1
            # Jittered, so callers refused together do not come back together.
            await asyncio.sleep(pause * random.uniform(0.5, 1.0))
            pause = min(pause * 2, p.max_pause_s)

    async def _running(self, handle: WorkflowHandle[Any, Any]) -> bool:
        try:
            desc = await handle.describe()
        except RPCError:
            return False
        return desc.status is not None and desc.status.name == "RUNNING"

    async def _polled(self) -> datetime | None:
        """When a worker last asked this task queue for workflow tasks (None: none known)."""
        req = DescribeTaskQueueRequest(
            namespace=self.client.namespace,
            task_queue=TaskQueue(name=self.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
        try:
            resp = await self.client.workflow_service.describe_task_queue(
                req, timeout=timedelta(seconds=10)
            )
        except RPCError:
            return None
        times = [p.last_access_time.ToDatetime(tzinfo=UTC) for p in resp.pollers]
        return max(times, default=None)

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


def _settle(op: WithStartWorkflowOperation[Any, Any]) -> None:
    """Mark the operation's start outcome as seen.

    An attempt given up on leaves it failed, and asyncio would log "Future exception was never
    retrieved" for each such attempt; the SDK offers no public way to see it settled.
    """
    fut = op._workflow_handle
    if fut.done() and not fut.cancelled():
        fut.exception()


def _unless_cancelled() -> None:
    """Re-raise a cancellation of the caller's own task (Ctrl-C): it is no refusal to retry."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _known(polled: datetime | None, task_queue: str, last: _Passing) -> str:
    """What is known of why nothing was confirmed.

    Facts only, true whatever the cause: a busy worker asks for no work while its slots are
    full, a stopped one never again, and from here the two look alike.
    """
    if polled is None:
        return (
            f"no worker has asked task queue {task_queue} for work lately: "
            "is `dsrflow worker` running?"
        )
    ago = max(0, int((datetime.now(UTC) - polled).total_seconds()))
    return (
        f"a worker last asked task queue {task_queue} for work {ago} s ago; "
        f"Temporal's last word: {last.reason}"
    )


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
    # The server's own words (e.g. "no poller seen for task queue recently" for a query with no
    # worker): ids and states, never a payload.
    return UserError(
        f"request {request_id}: Temporal refused the call ({exc.status.name}: "
        f"{first_line(exc.message)})"
    )
