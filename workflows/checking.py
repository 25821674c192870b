"""What happens after a store's verb ran: verification, the independent sweep, the end state.

Runs the check activities; what their results mean is the machine's
(``dsrflow.workflows.machine.checks``). Deterministic, no I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError

from dsrflow.workflows import acts
from dsrflow.workflows.machine import WORKLOAD, RequestMachine
from dsrflow.workflows.machine import checks as rules
from dsrflow.workflows.publishing import Publisher

with workflow.unsafe.imports_passed_through():
    from dsrflow.domain import (
        StorePlan,
        StoreReceipt,
        StoreStatus,
        StoreTaskInput,
        SweepInput,
        VerifyReceipt,
    )
    from dsrflow.sweeps import SweepReport

PATCH_STORE_CHECKS = "sweep-resume-recovered-receipts"
"""Sweep after erasure/access, resume a retry at the failed step, recovered receipts are done."""

Fail = Callable[[StorePlan, ActivityError, str], Awaitable[None]]


class Checker:
    """Checks a verb's receipt and settles the store.

    Args:
        machine: The request's state.
        pub: Publishes each change.
        fail: Parks a store whose activity failed (with escalation when late).
    """

    def __init__(self, machine: RequestMachine, pub: Publisher, fail: Fail) -> None:
        self.m = machine
        self.pub = pub
        self.fail = fail

    async def check(
        self,
        store: StorePlan,
        task: StoreTaskInput,
        receipt: StoreReceipt,
        *,
        fresh: bool,
        verified: VerifyReceipt | None = None,
    ) -> bool:
        """Check a verb's receipt and settle the store; True when it reached an end state.

        Args:
            store: The store.
            task: The task the verb ran with (verify reuses it).
            receipt: The verb's receipt (or the one kept from an earlier attempt).
            fresh: Whether the verb ran in this attempt (its receipt is combined with any
                earlier run's, and its attempts are counted).
            verified: A verification already made with the verb (an erasure batch's set-based
                one): used instead of running ``verify_store``.
        """
        m, name, rtype = self.m, store.name, self.m.inp.request_type
        outcome = m.stores.outcomes[name]
        if fresh:
            receipt = rules.combine(outcome.receipt, receipt)
        attempts = outcome.attempts + (receipt.attempt if fresh else 0)
        # Keep the receipt (and retry from here) before anything else can fail; the ledger sees
        # it with the snapshot that settles or parks the store (older runs: at once).
        await self.pub.note_store(
            name, receipt=receipt, attempts=attempts, catalog_digest=receipt.catalog_digest
        )
        check: VerifyReceipt | None = None
        if rules.wants_verify(rtype, store, receipt):
            try:
                check = verified or await acts.verify_store(task, store=store)
            except ActivityError as err:
                m.stores.resume[name] = receipt
                await self.fail(store, err, acts.verify_store.name)
                return False
            residual = rules.residual(check)
            if residual is not None:
                await self.pub.update_store(name, **residual)
                return False
        report = None
        if rules.wants_sweep(rtype, store):
            try:
                report = await self._sweep(store, receipt)
            except ActivityError as err:
                m.stores.resume[name] = receipt
                await self.fail(store, err, acts.sweep_store.name)
                return False
        warnings = rules.warnings_for(m.stores, store, receipt, report)
        for text in rules.new_warnings(m.stores, name, warnings):
            self.pub.record(WORKLOAD, "store_warning", text, name)
        settled = rules.settle(rtype, receipt, check, report, warnings)
        await self.pub.update_store(name, **settled.changes)
        return settled.ended

    async def _sweep(self, store: StorePlan, receipt: StoreReceipt) -> SweepReport:
        """Run the independent sweep; ``after`` says what its hits mean."""
        m = self.m
        inp = SweepInput(
            request_id=m.inp.request_id,
            store=store.name,
            identities=m.stores.identities or m.inp.identities,
            after=rules.sweep_after(m.inp.request_type, receipt),
            catalog_digest=m.stores.digest,
        )
        return await acts.sweep_store(inp, store=store)

    async def legacy(self, store: StorePlan, task: StoreTaskInput, receipt: StoreReceipt) -> bool:
        """A verb's end state as requests started before ``PATCH_STORE_CHECKS`` settle it."""
        m, name = self.m, store.name
        attempts = m.stores.outcomes[name].attempts + receipt.attempt
        if receipt.matched == 0:
            await self.pub.update_store(
                name, status=StoreStatus.NOT_FOUND, receipt=receipt, attempts=attempts,
                actor=WORKLOAD, error_type=None,
            )  # fmt: skip
            return True
        check = None
        if m.erasure and "verify" in store.capabilities:
            try:
                check = await acts.verify_store(task, store=store)
            except ActivityError as err:
                await self.fail(store, err, acts.verify_store.name)
                return False
            residual = rules.residual(check)
            if residual is not None:
                await self.pub.update_store(name, receipt=receipt, attempts=attempts, **residual)
                return False
        await self.pub.update_store(
            name, status=StoreStatus.DONE, receipt=receipt, verification=check,
            attempts=attempts, actor=WORKLOAD, error_type=None,
        )  # fmt: skip
        return True
