"""The workflow's side door, shut: every start and update must carry a valid caller assertion.

A worker interceptor checks the ``dsrflow-caller`` header (see ``dsrflow.assertions``) of each
start and update. A start without a valid one makes the request end at once as ``rejected``; an
update without one is accepted only to be refused in its handler, so that the refusal is written
into the request's history and the ledger's audit log (a validator's rejection leaves no trace
anywhere). The check is pure and uses the workflow's clock, so it replays deterministically; the
key lives in the worker process only.
"""

from __future__ import annotations

from typing import Any, Protocol

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ExecuteWorkflowInput,
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

with workflow.unsafe.imports_passed_through():
    from dsrflow import assertions

PATCH_CALLER_CHECK = "caller-assertion"
START_PROBLEM = "_dsrflow_start_problem"
"""Attribute of the workflow instance that holds why its start was refused (or None)."""


class Refusing(Protocol):
    """What the guard needs from the workflow: a way to record a refused call."""

    async def _refuse(self, operation: str, actor: str, problem: str) -> None: ...


class CallerCheck(Interceptor):
    """Worker interceptor that refuses calls without a valid caller assertion.

    Args:
        key: The caller key.
        max_age_s: How old an assertion may be (0: not checked).
    """

    def __init__(self, key: bytes, max_age_s: int = assertions.MAX_AGE_S) -> None:
        self._key = key
        self._max_age_s = max_age_s

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        """The inbound interceptor class, bound to this worker's key."""
        key, max_age_s = self._key, self._max_age_s

        class _Bound(_CheckInbound):
            _KEY = key
            _MAX_AGE_S = max_age_s

        return _Bound


class _CheckInbound(WorkflowInboundInterceptor):
    _KEY: bytes
    _MAX_AGE_S: int

    def _problem(self, operation: str, actor: str, headers: Any) -> str | None:
        return assertions.problem(
            headers,
            self._KEY,
            request_id=workflow.info().workflow_id,
            operation=operation,
            actor=actor,
            now=workflow.now(),
            max_age_s=self._MAX_AGE_S,
        )

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        setattr(
            workflow.instance(), START_PROBLEM, self._problem(assertions.START, "", input.headers)
        )
        return await super().execute_workflow(input)

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        # An unasserted update skips the real validator: it is refused (and recorded) by its
        # handler, and must learn nothing about the request's state on the way.
        if self._problem(input.update, assertions.actor_of(input.args), input.headers) is None:
            super().handle_update_validator(input)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        actor = assertions.actor_of(input.args)
        problem = self._problem(input.update, actor, input.headers)
        # Updates accepted before this check existed replay as they ran.
        if problem is not None and workflow.patched(PATCH_CALLER_CHECK):
            instance: Refusing = workflow.instance()
            await instance._refuse(input.update, actor, problem)
            raise ApplicationError(
                f"{input.update} refused: {problem}", type="CallerRefused", non_retryable=True
            )
        return await super().handle_update_handler(input)
