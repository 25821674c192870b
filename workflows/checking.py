"""What happens after a store's verb ran: verification, the independent sweep, the end state.

Runs the check activities; what their results mean is the machine's
(``dsrflow.workflows.machine.checks``). Since patch ``check-store`` both checks run in one
``check_store`` activity (``Publisher.checks_at_once``); requests started before run
``verify_store`` then ``sweep_store``, as they did. Deterministic, no I/O.
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
        CheckInput,
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
Checked = tuple[VerifyReceipt | None, SweepReport | None]
"""A store's verification and sweep report (each None where it did not run)."""


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
                one): used instead of running a verification.
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
        if self.pub.checks_at_once():
            checked = await self._at_once(store, task, receipt, verified)
        else:
            checked = await self._apart(store, task, receipt, verified)
        if checked is None:
            return False  # parked: the check failed, or the erasure left records
        check, report = checked
        warnings = rules.warnings_for(m.stores, store, receipt, report)
        for text in rules.new_warnings(m.stores, name, warnings):
            self.pub.record(WORKLOAD, "store_warning", text, name)
        settled = rules.settle(rtype, receipt, check, report, warnings)
        await self.pub.update_store(name, **settled.changes)
        return settled.ended

    async def _at_once(
        self,
        store: StorePlan,
        task: StoreTaskInput,
        receipt: StoreReceipt,
        verified: VerifyReceipt | None,
    ) -> Checked | None:
        """Both checks in one ``check_store`` activity; None when the store was parked.

        A batch member's verification came with the batch's answer: only its sweep is left
        (``check_store`` without verification), and only when that verification found nothing.
        """
        m, name, rtype = self.m, store.name, self.m.inp.request_type
        wants_verify = rules.wants_verify(rtype, store, receipt)
        check = verified if wants_verify else None
        verify_now = wants_verify and check is None
        sweep = rules.wants_sweep(rtype, store)
        report: SweepReport | None = None
        if (check is None or rules.residual(check) is None) and (verify_now or sweep):
            inp = CheckInput(
                request_id=m.inp.request_id,
                store=name,
                identities=task.identities,
                verify=verify_now,
                sweep_after=rules.sweep_after(rtype, receipt) if sweep else None,
                catalog_digest=m.stores.digest,
            )
            try:
                found = await acts.check_store(inp, store=store)
            except ActivityError as err:
                m.stores.resume[name] = receipt  # a retry checks again, without the verb
                await self.fail(store, err, acts.check_store.name)
                return None
            check = found.verification if verify_now else check
            report = found.report
        residual = rules.residual(check) if check is not None else None
        if residual is not None:  # no sweep ran: the store waits for a person either way
            await self.pub.update_store(name, **residual)
            return None
        return check, report

    async def _apart(
        self,
        store: StorePlan,
        task: StoreTaskInput,
        receipt: StoreReceipt,
        verified: VerifyReceipt | None,
    ) -> Checked | None:
        """``verify_store`` then ``sweep_store`` (runs started before ``check-store``)."""
        m, name, rtype = self.m, store.name, self.m.inp.request_type
        check: VerifyReceipt | None = None
        if rules.wants_verify(rtype, store, receipt):
            try:
                check = verified or await acts.verify_store(task, store=store)
            except ActivityError as err:
                m.stores.resume[name] = receipt
                await self.fail(store, err, acts.verify_store.name)
                return None
            residual = rules.residual(check)
            if residual is not None:
                await self.pub.update_store(name, **residual)
                return None
        report = None
        if rules.wants_sweep(rtype, store):
            try:
                report = await self._sweep(store, receipt)
            except ActivityError as err:
                m.stores.resume[name] = receipt
                await self.fail(store, err, acts.sweep_store.name)
                return None
        return check, report

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
