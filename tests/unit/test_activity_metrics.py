"""The worker's activity interceptor: each finished store attempt counted by store, operation and
outcome; a sweep that found rows counted as a hit; other activities not counted (the e2e test
tests/e2e/test_metrics.py sees the same series through a real worker)."""

from __future__ import annotations

import contextlib
import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import generate_latest
from temporalio.testing import ActivityEnvironment
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

from dsrflow.observability.interceptor import ActivityMetrics
from dsrflow.observability.metrics import WorkerMetrics

pytestmark = pytest.mark.unit


class _Returns(ActivityInboundInterceptor):
    def __init__(self, outcome: Any) -> None:  # the end of the chain: no next
        self.outcome = outcome

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


async def _attempt(metrics: WorkerMetrics, activity_type: str, store: str, outcome: Any) -> None:
    chain = ActivityMetrics(metrics).intercept_activity(_Returns(outcome))
    inp = ExecuteActivityInput(
        fn=lambda: None, args=[SimpleNamespace(store=store, request_id="dsr-x")], executor=None,
        headers={},
    )  # fmt: skip
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, activity_type=activity_type)

    async def run() -> None:
        with contextlib.suppress(RuntimeError):
            await chain.execute_activity(inp)

    await env.run(run)


async def test_store_attempts_sweeps_and_hits_are_counted() -> None:
    m = WorkerMetrics()
    await _attempt(m, "erase_store", "shop", SimpleNamespace(matched=3))
    await _attempt(m, "erase_store", "shop", RuntimeError("store down"))
    await _attempt(m, "sweep_store", "shop", SimpleNamespace(hit_count=0))
    await _attempt(m, "sweep_store", "crm", SimpleNamespace(hit_count=4))
    await _attempt(m, "project", "shop", True)  # not a store operation

    ops = m.store_operations
    assert ops.labels("shop", "erase", "ok")._value.get() == 1
    assert ops.labels("shop", "erase", "error")._value.get() == 1
    assert ops.labels("shop", "sweep", "ok")._value.get() == 1
    assert m.sweeps.labels("shop")._value.get() == 1
    assert m.sweep_hits.labels("crm")._value.get() == 1
    text = generate_latest(m.registry).decode()
    assert 'dsrflow_sweep_hits_total{store="shop"}' not in text  # a clean sweep is no hit
    assert "project" not in text and "dsr-x" not in text


async def test_check_store_counts_as_one_check_and_its_sweep_as_a_sweep() -> None:
    m = WorkerMetrics()
    swept = SimpleNamespace(hit_count=2)
    await _attempt(m, "check_store", "shop", SimpleNamespace(verification=None, report=swept))
    # Records left after the erasure: no sweep ran, none is counted.
    await _attempt(m, "check_store", "crm", SimpleNamespace(verification=object(), report=None))
    await _attempt(m, "check_store", "crm", RuntimeError("store down"))

    ops = m.store_operations
    assert ops.labels("shop", "check", "ok")._value.get() == 1
    assert ops.labels("crm", "check", "ok")._value.get() == 1
    assert ops.labels("crm", "check", "error")._value.get() == 1
    assert m.sweeps.labels("shop")._value.get() == 1
    assert m.sweep_hits.labels("shop")._value.get() == 1
    assert m.sweeps.labels("crm")._value.get() == 0
