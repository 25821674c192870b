"""Constants and small helpers shared by the request workflow's parts (deterministic)."""

from __future__ import annotations

import pkgutil
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

with workflow.unsafe.imports_passed_through():
    from dsrflow.domain import RequestType, StorePlan

DSR_STATUS = SearchAttributeKey.for_keyword("DsrStatus")
DSR_TYPE = SearchAttributeKey.for_keyword("DsrType")
DSR_DUE = SearchAttributeKey.for_datetime("DsrDueAt")

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
MAX_IDENTITY_HOPS = 5

# request type -> (activity, capability the store must declare)
VERBS: dict[RequestType, tuple[str, str]] = {
    RequestType.ACCESS: ("access_store", "access"),
    RequestType.EXPORT: ("access_store", "access"),
    RequestType.ERASURE: ("erase_store", "erase"),
    RequestType.RECTIFICATION: ("rectify_store", "rectify"),
    RequestType.RESTRICTION: ("restrict_store", "restrict"),
}


def store_options(store: StorePlan) -> dict[str, object]:
    """Activity options from a store's retry policy in the catalog."""
    r = store.retry
    return {
        "start_to_close_timeout": timedelta(seconds=r.timeout_s),
        "heartbeat_timeout": timedelta(seconds=r.heartbeat_s),
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(seconds=r.initial_interval_s),
            backoff_coefficient=r.backoff,
            maximum_interval=timedelta(seconds=r.max_interval_s),
            maximum_attempts=r.max_attempts,
            non_retryable_error_types=NON_RETRYABLE,
        ),
    }


def sandbox_runner() -> SandboxedWorkflowRunner:
    """The workflow sandbox with dsrflow's own modules passed through.

    Its domain, lifecycle and evidence types are pure and deterministic; passing them through
    keeps one copy per process (not one per workflow run) and makes every payload type's module
    visible to the data converter inside the sandbox (a type defined in a module the workflow
    never imports by name would otherwise decode with no module globals). Worker and replayer
    must use the same runner.

    The workflow modules themselves (``dsrflow.workflows``) are not passed through: they
    are re-imported in each sandbox, where the sandbox's restrictions apply to them.
    """
    import dsrflow

    core = sorted(
        f"dsrflow.{info.name}"
        for info in pkgutil.iter_modules(dsrflow.__path__)
        if info.name != "workflows"
    )
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*core)
    )
