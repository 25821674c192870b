"""Workflow tests with some activities replaced by name (the rest are the real ones; see
``tests/fixtures/activities.py``, whose ``scripted_harness`` replaces every store activity).

The sweep is a stand-in whose hits a test sets per store (the real sweep has its own
integration tests); ``erase_store``, the verification and ``access_store`` wrap the real
activities on real SQLite stores, to count calls, inject failures and stamp the catalog digest
each store ran under, as the real activities do. ``check_store`` runs the real activity's order
of checks (``run_checks``) over the same stand-in sweep and wrapped verification; ``steps``
counts each check whichever activity ran it (``verify_store``/``sweep_store`` for requests
started before patch ``check-store``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from dsrflow.activities.checks import run_checks
from dsrflow.adapters.registry import GROUP, AdapterRegistry
from dsrflow.adapters.sdk import Capability, Subject
from dsrflow.adapters.sql import SqlAdapter
from dsrflow.assertions import with_signer
from dsrflow.catalog import yamlpos
from dsrflow.catalog.pool import AdapterPool
from dsrflow.domain import (
    CheckInput,
    CheckResult,
    StoreReceipt,
    StoreTaskInput,
    SweepInput,
    VerifyReceipt,
)
from dsrflow.requests_client import RequestClient
from dsrflow.sweeps import SweepHit, SweepReport
from tests.fixtures.activities import activity_name, replace_activities
from tests.fixtures.lifecycle import Harness, ReadOnlySql
from tests.fixtures.timeskip import ts_runtime


class SweepingSql(SqlAdapter):
    """A real SQL store whose adapter declares the independent sweep."""

    name = "sweeping-sql"
    capabilities = frozenset(SqlAdapter.capabilities | {Capability.SWEEP})


def sweeping(store: dict[str, Any]) -> dict[str, Any]:
    """The same store entry, on the adapter that declares ``sweep``."""
    return {**store, "adapter": "sweeping-sql"}


@dataclass
class StandIns:
    """State the stand-in activities share with the test."""

    pool: AdapterPool
    real: dict[str, Callable[..., Any]]
    hits: dict[str, list[SweepHit]] = field(default_factory=dict)
    not_swept: dict[str, list[str]] = field(default_factory=dict)
    fail_once: set[tuple[str, str]] = field(default_factory=set)  # (activity or step, store)
    crash_after_commit: set[str] = field(default_factory=set)
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (activity, store)
    steps: Counter[tuple[str, str]] = field(default_factory=Counter)  # ("verify"|"sweep", store)
    checks: list[CheckInput] = field(default_factory=list)
    sweeps: list[SweepInput] = field(default_factory=list)
    tasks: list[StoreTaskInput] = field(default_factory=list)
    journal: dict[tuple[str, str], StoreReceipt] = field(default_factory=dict)

    def _enter(self, name: str, store: str) -> None:
        self.calls[(name, store)] += 1
        self._fail_if_told(name, store)

    def _step(self, name: str, store: str) -> None:
        self.steps[(name, store)] += 1
        self._fail_if_told(name, store)

    def _fail_if_told(self, name: str, store: str) -> None:
        if (name, store) in self.fail_once:
            self.fail_once.discard((name, store))
            raise ApplicationError(
                f"store {store!r}: injected outage", {"attempt": 1}, type="PermanentStoreError",
                non_retryable=True,
            )  # fmt: skip

    def _stamp(self, receipt: StoreReceipt) -> StoreReceipt:
        return replace(receipt, catalog_digest=self.pool.catalog.digest)

    @activity.defn(name="sweep_store")
    def sweep_store(self, inp: SweepInput) -> SweepReport:
        self._enter("sweep_store", inp.store)
        return self._sweep(inp)

    @activity.defn(name="verify_store")
    def verify_store(self, inp: StoreTaskInput) -> VerifyReceipt:
        self._enter("verify_store", inp.store)
        return self._verify(inp)

    @activity.defn(name="check_store")
    def check_store(self, inp: CheckInput) -> CheckResult:
        self._enter("check_store", inp.store)
        self.checks.append(inp)
        return run_checks(inp, verify=self._verify, sweep=self._sweep)

    def _verify(self, inp: StoreTaskInput) -> VerifyReceipt:
        self._step("verify", inp.store)
        return self.real["verify_store"](inp)

    def _sweep(self, inp: SweepInput) -> SweepReport:
        self._step("sweep", inp.store)
        self.sweeps.append(inp)
        return SweepReport(
            store=inp.store, method="sql-sweep", searched=["customers.email"],
            hits=list(self.hits.get(inp.store, [])),
            not_swept=list(self.not_swept.get(inp.store, [])),
            kinds=["email"], checked_at=datetime.now(UTC), catalog_digest=inp.catalog_digest,
        )  # fmt: skip

    @activity.defn(name="erase_store")
    def erase_store(self, inp: StoreTaskInput) -> StoreReceipt:
        self._enter("erase_store", inp.store)
        self.tasks.append(inp)
        if inp.dry_run:  # what the real activity reports after rolling back: counts only
            adapter = self.pool.get(inp.store)
            left = adapter.verify(Subject.of(inp.identities, request_id=inp.request_id))
            return self._stamp(replace(_as_receipt(inp, adapter, left.matched), dry_run=True))
        receipt = self._stamp(self.real["erase_store"](inp))
        key = (inp.request_id, inp.store)
        if receipt.affected > 0:
            self.journal[key] = receipt
        elif key in self.journal:  # a re-run after an earlier commit: the journaled receipt
            receipt = replace(self.journal[key], recovered=True)
        if inp.store in self.crash_after_commit:
            self.crash_after_commit.discard(inp.store)
            raise ApplicationError("worker lost after the commit", type="WorkerLost")
        return receipt

    @activity.defn(name="access_store")
    def access_store(self, inp: StoreTaskInput) -> StoreReceipt:
        self._enter("access_store", inp.store)
        self.tasks.append(inp)
        return self._stamp(self.real["access_store"](inp))

    def activities(self, real: list[Callable[..., Any]]) -> list[Callable[..., Any]]:
        mine = [
            self.sweep_store, self.erase_store, self.verify_store, self.check_store,
            self.access_store,
        ]  # fmt: skip
        return replace_activities(real, mine)


def _as_receipt(inp: StoreTaskInput, adapter: Any, matched: int) -> StoreReceipt:
    now = datetime.now(UTC)
    return StoreReceipt(
        store=inp.store, adapter=adapter.name, adapter_version=adapter.version, action="erase",
        matched=matched, affected=matched, operation_digest="", started_at=now, finished_at=now,
    )  # fmt: skip


@pytest.fixture
def checks_harness(
    ts_env: WorkflowEnvironment, demo_dir: Path, tmp_path: Path, request: pytest.FixtureRequest
):
    """``async with checks_harness(stores=...) as (h, fakes):`` a worker with stand-ins."""

    @asynccontextmanager
    async def make(
        stores: dict[str, Any], policies: dict[str, Any] | None = None
    ) -> AsyncIterator[tuple[Harness, StandIns]]:
        catalog: dict[str, Any] = {"version": 1, "stores": stores}
        if policies:
            catalog["policies"] = policies
        path = demo_dir / "lifecycle.yaml"
        path.write_text(yamlpos.dump(catalog, sort_keys=False))
        rt = ts_runtime(tmp_path / "state", path)
        rt.registry = AdapterRegistry(
            {ep.name: ep for ep in entry_points(group=GROUP)},
            classes={"readonly-sql": ReadOnlySql, "sweeping-sql": SweepingSql},
        )
        # The runtime's worker, read for its activities (built on a queue nobody polls).
        config = rt.worker(ts_env.client, f"unused-{uuid.uuid4().hex[:12]}").config()
        config["task_queue"] = rt.settings.task_queue
        real = {activity_name(fn): fn for fn in config["activities"]}
        pool = real["plan_request"].__self__.pool  # type: ignore[attr-defined]
        fakes = StandIns(pool, real)
        config["activities"] = fakes.activities(config["activities"])
        h = Harness(
            ts_env,
            rt,
            RequestClient(with_signer(ts_env.client, rt.caller_key), rt.settings.task_queue),
            demo_dir,
        )
        try:
            async with Worker(**config):
                yield h, fakes
            await h.record_histories(request.node.name.replace("[", "-").rstrip("]"))
        finally:
            await h.terminate_leftovers()
            rt.ledger.close()

    return make
