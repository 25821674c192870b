"""``ErasureBatchWorkflow``: the store work of many erasure requests, coalesced.

Every member is an ordinary request workflow (the legal record: its own id, gates, clock and
evidence bundle). When a member reaches a ``batch_erase`` store it signals ``member_ready``
with its identities sealed under its own key and waits. The batch gathers ready members until
every member has reported, or nobody new became ready for ``quiet_s`` (a member at a gate or on
hold does not hold up the others), then erases each store for its ready members chunk by chunk
(``erase_batch``: one transaction and one statement per collection per chunk, each member's
receipt and verification kept in the ledger) and signals each member that her answer is kept
(``batch_result``). It ends once every member was
answered for every batch store it expects, or said it finished without them.

Deterministic, no I/O; the history holds request ids, counts and sealed blobs only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

from dsrflow.workflows import acts
from dsrflow.workflows.guard import START_PROBLEM

with workflow.unsafe.imports_passed_through():
    from dsrflow.batches import (
        BATCH_WORKFLOW,
        BatchChunkInput,
        BatchInput,
        BatchStoreResult,
        BatchView,
        MemberFinished,
        MemberReady,
        SealedMember,
    )

RESULT_SIGNAL = "batch_result"


@workflow.defn(name=BATCH_WORKFLOW)
class ErasureBatchWorkflow:
    """One batch of erasure requests whose stores are erased set-based."""

    def __init__(self) -> None:
        self._ready: dict[str, dict[str, MemberReady]] = {}  # store -> request id -> ready
        self._expect: dict[str, int] = {}  # request id -> batch stores it will report
        self._answered: dict[str, int] = {}  # request id -> batch stores answered
        self._finished: set[str] = set()
        self._arrivals = 0
        self._members: list[str] = []
        self._batch_id = ""
        self._counts = {"erased": 0, "fallbacks": 0, "failed": 0}

    @workflow.run
    async def run(self, inp: BatchInput) -> BatchView:
        """Erase every member's batch stores as they become ready; end when all are answered."""
        if getattr(self, START_PROBLEM, None) is not None:
            # Started without a valid caller assertion: erase nothing (members erase alone).
            raise ApplicationError("batch start refused", type="CallerRefused", non_retryable=True)
        self._members, self._batch_id = list(inp.request_ids), inp.batch_id
        while not self._all_done():
            await workflow.wait_condition(lambda: bool(self._ready) or self._all_done())
            if self._all_done() and not self._ready:
                break
            await self._gather(inp.quiet_s)
            await self._flush(inp)
        return self.status()

    def _open(self) -> list[str]:
        """Members not finished and not answered for every store they expect."""
        return [
            r
            for r in self._members
            if r not in self._finished
            and (r not in self._expect or self._answered.get(r, 0) < self._expect[r])
        ]

    def _all_done(self) -> bool:
        return not self._open()

    def _all_reported(self) -> bool:
        waiting = {r for ready in self._ready.values() for r in ready}
        return all(r in waiting for r in self._open())

    async def _gather(self, quiet_s: float) -> None:
        """Wait until every open member reported, or nobody new came for ``quiet_s``."""
        while not self._all_reported():
            try:
                await workflow.wait_condition(
                    self._news(self._arrivals), timeout=timedelta(seconds=quiet_s)
                )
            except TimeoutError:
                return

    def _news(self, seen: int) -> Callable[[], bool]:
        """True once every open member reported, or someone new arrived since ``seen``."""
        return lambda: self._all_reported() or self._arrivals != seen

    async def _flush(self, inp: BatchInput) -> None:
        """Erase each store for its ready members, chunk by chunk; answer every member."""
        ready, self._ready = self._ready, {}
        for store, members in ready.items():
            items = list(members.values())
            for start in range(0, len(items), max(1, inp.chunk_size)):
                await self._chunk(store, items[start : start + inp.chunk_size])

    async def _chunk(self, store: str, items: list[MemberReady]) -> None:
        plan = items[0].store
        chunk = BatchChunkInput(
            self._batch_id,
            store,
            [SealedMember(i.request_id, i.sealed) for i in items],
            catalog_digest=items[0].catalog_digest,
        )
        answers: dict[str, BatchStoreResult]
        try:
            result = await acts.erase_batch(chunk, store=plan)
        except ActivityError as err:
            cause = err.cause
            kind = cause.type if isinstance(cause, ApplicationError) and cause.type else "Error"
            text = cause.message if isinstance(cause, ApplicationError) else "erase_batch failed"
            answers = {
                i.request_id: BatchStoreResult(store, error_type=kind, error=text) for i in items
            }
            self._counts["failed"] += len(items)
        else:
            if result.fallback:
                answers = {i.request_id: BatchStoreResult(store, fallback=True) for i in items}
                self._counts["fallbacks"] += len(items)
            elif result.kept:  # each member reads her own answer from the ledger
                answers = {i.request_id: BatchStoreResult(store, kept=True) for i in items}
                self._counts["erased"] += len(answers)
            else:  # an erase_batch result from before kept answers (replayed batches)
                answers = {
                    r.request_id: BatchStoreResult(store, r.receipt, r.verification, tag=r.tag)
                    for r in result.results
                }
                self._counts["erased"] += len(answers)
        for item in items:
            self._answered[item.request_id] = self._answered.get(item.request_id, 0) + 1
        # All answers in one workflow task (awaited one by one, each would cost a round trip).
        await asyncio.gather(
            *(
                self._tell(
                    i.request_id,
                    answers.get(i.request_id) or BatchStoreResult(store, fallback=True),
                )
                for i in items
            )
        )

    async def _tell(self, request_id: str, answer: BatchStoreResult) -> None:
        """Signal one member its answer (a member that ended meanwhile is told nothing)."""
        with suppress(FailureError):
            await workflow.get_external_workflow_handle(request_id).signal(RESULT_SIGNAL, answer)

    @workflow.signal(name="member_ready")
    def member_ready(self, ready: MemberReady) -> None:
        """A member waits for the batch to erase one of its stores."""
        if ready.request_id not in self._members:
            return  # not one of ours: a stray signal must not make the batch erase anything
        self._expect[ready.request_id] = ready.expect
        self._ready.setdefault(ready.store.name, {})[ready.request_id] = ready
        self._arrivals += 1

    @workflow.signal(name="member_finished")
    def member_finished(self, done: MemberFinished) -> None:
        """A member ended without (all of) its batch stores: the batch does not wait for it."""
        self._finished.add(done.request_id)
        self._arrivals += 1

    @workflow.query
    def status(self) -> BatchView:
        """How far the batch is (counts only)."""
        done = len(self._members) - len(self._open())
        return BatchView(self._batch_id, len(self._members), done, **self._counts)
