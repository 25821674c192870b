"""A request's side of an erasure batch: hand a store to the batch, settle it from the answer.

A request started with ``batch_id`` (``dsrflow request submit-batch``) does not erase its
``batch_erase`` stores itself: it seals its resolved identities under its own key (a local
activity), signals the batch ``member_ready`` and waits for ``batch_result``. The answer says
her own receipt and verification from the batch's set-based erasure are kept in the ledger;
``check_batch_result`` (a local activity) reads them and checks their tag. A fallback answer,
a batch that has ended, or a person's retry after a failure erase the store per subject, as a
lone request would. The batch's answer is settled like a lone request's verb
(``Checker.check``, with the batch's verification), so the per-subject residual sweep still
runs: the evidence format requires it. Deterministic, no I/O.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import FailureError

from dsrflow.workflows import acts
from dsrflow.workflows.machine import WORKLOAD, RequestMachine
from dsrflow.workflows.machine import checks as rules
from dsrflow.workflows.publishing import Publisher

with workflow.unsafe.imports_passed_through():
    from dsrflow.batches import (
        BatchResultCheck,
        BatchStoreResult,
        MemberFinished,
        MemberReady,
        SealInput,
    )
    from dsrflow.domain import Identity, StorePlan, StoreStatus

BATCH_WAIT = timedelta(days=1)
"""How long a store waits for its batch before it waits for a person instead."""


class BatchMember:
    """The request's dealings with its batch (inert for a request of its own).

    Args:
        machine: The request's state.
        pub: Publishes each change.
    """

    def __init__(self, machine: RequestMachine, pub: Publisher) -> None:
        self.m = machine
        self.pub = pub
        self.results: dict[str, BatchStoreResult] = {}
        self.waiting: set[str] = set()
        self.tried: set[str] = set()
        self.reported = 0
        self._sealed: str | None = None

    def _eligible(self, store: StorePlan) -> bool:
        inp = self.m.inp
        return (
            inp.batch_id is not None
            and self.m.erasure
            and not inp.dry_run
            and store.batch_erase
            and not store.human_task
            and "erase" in store.capabilities
            and store.exemption is None
        )

    def wants(self, store: StorePlan) -> bool:
        """Whether the batch erases this store (once: a retry erases it per subject)."""
        return self._eligible(store) and store.name not in self.tried

    def expected(self) -> int:
        """How many stores this request hands to the batch (its plan's eligible stores)."""
        plan = self.m.stores.plan
        return sum(1 for s in plan.stores if self._eligible(s)) if plan else 0

    def deliver(self, result: BatchStoreResult) -> None:
        """Take the batch's answer for a store this request is waiting on (else ignore it)."""
        if result.store in self.waiting:
            self.results[result.store] = result

    async def run(self, store: StorePlan, identities: list[Identity]) -> BatchStoreResult | None:
        """Hand the store to the batch; its answer (None: the store ended, e.g. cancelled).

        A fallback answer (or a batch that has ended) means: erase it per subject now. An error
        answer has already parked the store for a person (its status says so).
        """
        m, pub, name = self.m, self.pub, store.name
        self.tried.add(name)
        await workflow.wait_condition(m.released)
        if m.cancelled():
            await pub.update_store(name, status=StoreStatus.CANCELLED)
            return None
        await pub.update_store(name, status=StoreStatus.RUNNING, error=None)
        if self._sealed is None:
            sealed = await acts.seal_identities.local(SealInput(m.inp.request_id, identities))
            self._sealed = sealed.sealed
        assert m.inp.batch_id is not None
        ready = MemberReady(m.inp.request_id, store, self._sealed, self.expected(), m.stores.digest)
        self.waiting.add(name)
        try:
            await workflow.get_external_workflow_handle(m.inp.batch_id).signal(
                "member_ready", ready
            )
        except FailureError:
            self.waiting.discard(name)
            pub.record(WORKLOAD, "batch_unavailable", "the batch has ended: erased alone", name)
            return BatchStoreResult(name, fallback=True)
        self.reported += 1
        try:
            await workflow.wait_condition(lambda: name in self.results, timeout=BATCH_WAIT)
            res = self.results.pop(name)
        except TimeoutError:
            res = BatchStoreResult(name, error_type="BatchTimeout", error="no answer in time")
        self.waiting.discard(name)
        if res.receipt is not None or res.kept:
            # Signals carry no caller assertion: only erase_batch can tag an answer for us (a
            # kept answer is read from the ledger, where only erase_batch writes).
            checked = await acts.check_batch_result.local(BatchResultCheck(m.inp.request_id, res))
            if not checked.valid:
                res = BatchStoreResult(name, error_type="BatchUnverified", error="untagged answer")
            elif res.kept:
                res = replace(res, receipt=checked.receipt, verification=checked.verification)
        if res.fallback:
            pub.record(WORKLOAD, "batch_fallback", "not erasable in a batch: erased alone", name)
        elif res.receipt is None or res.verification is None:
            attempts = m.stores.outcomes[name].attempts + store.retry.max_attempts
            kind, text = res.error_type or "BatchError", res.error or "the batch failed"
            await pub.update_store(name, **rules.failure(kind, text, attempts))
        return res

    async def finish(self) -> None:
        """Tell the batch not to wait for stores this request will never hand it."""
        batch_id = self.m.inp.batch_id
        if batch_id is None or (self.reported and self.reported >= self.expected()):
            return
        with suppress(FailureError):  # the batch has ended: nothing waits for this request
            await workflow.get_external_workflow_handle(batch_id).signal(
                "member_finished", MemberFinished(self.m.inp.request_id)
            )
