"""Typed stubs for the activities the request workflow calls: one place knows each one.

Each stub knows its activity's registered name, its input and result types and its default
options (timeouts, retry policy), so workflow code reads ``await acts.erase_store(task,
store=plan)`` and gets a ``StoreReceipt`` back. Activities are called by name, never by
importing ``dsrflow.activities`` (the workflow must not import I/O code); a unit test checks
every stub against the activity it names (``tests/unit/test_activity_stubs.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Generic, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from dsrflow.batches import (
        BatchChunkInput,
        BatchChunkResult,
        BatchResultCheck,
        BatchResultChecked,
        Sealed,
        SealInput,
    )
    from dsrflow.domain import (
        ArtifactRef,
        AssembleInput,
        CheckInput,
        CheckResult,
        EvidenceInput,
        Plan,
        PlanInput,
        ProjectionEvent,
        RequestType,
        ResolveResult,
        StorePlan,
        StoreReceipt,
        StoreTaskInput,
        SweepInput,
        VerifyReceipt,
    )
    from dsrflow.lifecycle import Notification, Policy, PolicyInput
    from dsrflow.sweeps import SweepReport

In = TypeVar("In")
Out = TypeVar("Out")

SHORT = timedelta(seconds=60)
SHORT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
# Notifications give up after about an hour of failures (recorded on the request) instead of
# holding the deadline clock hostage.
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=20,
)
NON_RETRYABLE = ["PermanentStoreError", "NotSupported", "ConfigError"]
"""Store errors a retry cannot fix: the store waits for a person at once."""
LOCAL_TIMEOUT = timedelta(seconds=30)


@dataclass(frozen=True)
class Activity(Generic[In, Out]):
    """An activity with fixed options.

    Attributes:
        name: The name it is registered under (``@activity.defn(name=...)``).
        input_type: What it takes.
        result_type: What it returns (the payload converter decodes into it).
        timeout: Its start-to-close timeout.
        retry: Its retry policy.
    """

    name: str
    input_type: type[In]
    result_type: type[Out]
    timeout: timedelta = SHORT
    retry: RetryPolicy = field(default_factory=lambda: SHORT_RETRY)

    async def __call__(self, arg: In) -> Out:
        """Run it as a normal activity (scheduled once the current workflow task is saved)."""
        result: Out = await workflow.execute_activity(
            self.name,
            arg,
            result_type=self.result_type,
            start_to_close_timeout=self.timeout,
            retry_policy=self.retry,
        )
        return result

    async def local(self, arg: In) -> Out:
        """Run it as a local activity, inside the workflow task that asked for it."""
        result: Out = await workflow.execute_local_activity(
            self.name,
            arg,
            result_type=self.result_type,
            start_to_close_timeout=LOCAL_TIMEOUT,
            retry_policy=self.retry,
        )
        return result


@dataclass(frozen=True)
class StoreActivity(Generic[In, Out]):
    """An activity in one data store: its options come from the store's catalog entry.

    Attributes:
        steps: How many store operations it runs one after the other, each of which had the
            store's start-to-close timeout to itself as an activity of its own.
    """

    name: str
    input_type: type[In]
    result_type: type[Out]
    steps: int = 1

    async def __call__(self, arg: In, *, store: StorePlan) -> Out:
        """Run it with the store's timeouts and retry policy."""
        r = store.retry
        result: Out = await workflow.execute_activity(
            self.name,
            arg,
            result_type=self.result_type,
            start_to_close_timeout=timedelta(seconds=r.timeout_s * self.steps),
            heartbeat_timeout=timedelta(seconds=r.heartbeat_s),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=r.initial_interval_s),
                backoff_coefficient=r.backoff,
                maximum_interval=timedelta(seconds=r.max_interval_s),
                maximum_attempts=r.max_attempts,
                non_retryable_error_types=NON_RETRYABLE,
            ),
        )
        return result


get_policy = Activity("get_policy", PolicyInput, Policy)
plan_request = Activity("plan_request", PlanInput, Plan)
project = Activity("project", ProjectionEvent, bool)
notify = Activity("notify", Notification, bool, retry=NOTIFY_RETRY)
assemble_access_package = Activity(
    "assemble_access_package", AssembleInput, ArtifactRef, timeout=timedelta(minutes=30)
)
build_evidence_bundle = Activity("build_evidence_bundle", EvidenceInput, ArtifactRef)

resolve_identities = StoreActivity("resolve_identities", StoreTaskInput, ResolveResult)
access_store = StoreActivity("access_store", StoreTaskInput, StoreReceipt)
erase_store = StoreActivity("erase_store", StoreTaskInput, StoreReceipt)
rectify_store = StoreActivity("rectify_store", StoreTaskInput, StoreReceipt)
restrict_store = StoreActivity("restrict_store", StoreTaskInput, StoreReceipt)
verify_store = StoreActivity("verify_store", StoreTaskInput, VerifyReceipt)
sweep_store = StoreActivity("sweep_store", SweepInput, SweepReport)
check_store = StoreActivity("check_store", CheckInput, CheckResult, steps=2)
"""Verification and sweep in one activity (requests started since patch ``check-store``)."""
seal_identities = Activity("seal_identities", SealInput, Sealed)
erase_batch = StoreActivity("erase_batch", BatchChunkInput, BatchChunkResult)
check_batch_result = Activity("check_batch_result", BatchResultCheck, BatchResultChecked)

VERBS: dict[RequestType, StoreActivity[StoreTaskInput, StoreReceipt]] = {
    RequestType.ACCESS: access_store,
    RequestType.EXPORT: access_store,
    RequestType.ERASURE: erase_store,
    RequestType.RECTIFICATION: rectify_store,
    RequestType.RESTRICTION: restrict_store,
}
"""The activity that carries out each request type in a store."""

ALL = (
    get_policy, plan_request, project, notify, assemble_access_package, build_evidence_bundle,
    resolve_identities, access_store, erase_store, rectify_store, restrict_store, verify_store,
    sweep_store, check_store, seal_identities, erase_batch, check_batch_result,
)  # fmt: skip
"""Every stub (checked against the registered activities by the unit tests)."""
