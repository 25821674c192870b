"""The worker's activity interceptor that counts store operations and sweep hits.

An interceptor rather than code in each activity: the activities stay about stores, and every
attempt is counted the same way, whether it returned or raised.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from dsrflow.observability.metrics import WorkerMetrics

STORE_OPERATIONS = {
    "access_store": "access",
    "erase_store": "erase",
    "rectify_store": "rectify",
    "restrict_store": "restrict",
    "verify_store": "verify",
    "sweep_store": "sweep",
    "check_store": "check",
}
"""Activity type -> the ``operation`` label (the other activities are not per store)."""


class ActivityMetrics(Interceptor):
    """Counts finished store activity attempts into ``metrics``."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self.metrics = metrics

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Wrap the activity inbound chain."""
        return _Counting(next, self.metrics)


class _Counting(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, metrics: WorkerMetrics) -> None:
        super().__init__(next)
        self.metrics = metrics

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        operation = STORE_OPERATIONS.get(activity.info().activity_type)
        store = getattr(input.args[0], "store", None) if input.args else None
        if operation is None or not isinstance(store, str):
            return await super().execute_activity(input)
        try:
            result = await super().execute_activity(input)
        except BaseException:
            self.metrics.store_operations.labels(store, operation, "error").inc()
            raise
        self.metrics.store_operations.labels(store, operation, "ok").inc()
        # ``check_store`` carries its sweep's report (None when no sweep ran).
        report = result if operation == "sweep" else getattr(result, "report", None)
        if operation in ("sweep", "check") and report is not None:
            self.metrics.sweeps.labels(store).inc()
            if getattr(report, "hit_count", 0):
                self.metrics.sweep_hits.labels(store).inc()
        return result
