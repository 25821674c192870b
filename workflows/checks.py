"""What happens after a store's verb ran: verification, the independent sweep, the end state.

A mixin of ``DataSubjectRequestWorkflow`` (its state lives there); deterministic, no I/O.

The order per store is verb -> verify (erasure) -> sweep (stores declaring ``sweep``). A
``retry-store`` resumes at the step that failed: when the verb had succeeded and only verify or
the sweep could not run, the kept receipt is checked again instead of running the verb twice.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError

from dsrflow.workflows.common import store_options

with workflow.unsafe.imports_passed_through():
    from dsrflow.domain import (
        CollectionCount,
        RequestType,
        StorePlan,
        StoreReceipt,
        StoreStatus,
        StoreTaskInput,
        SweepInput,
        VerifyReceipt,
    )
    from dsrflow.sweeps import SweepReport

if TYPE_CHECKING:
    from dsrflow.workflows.dsr import DataSubjectRequestWorkflow as _Base
else:
    _Base = object

WORKLOAD = "workload:dsrflow-worker"
PATCH_STORE_CHECKS = "sweep-resume-recovered-receipts"
"""Sweep after erasure/access, resume a retry at the failed step, recovered receipts are done."""


class StoreChecks(_Base):
    """Verification, residual sweep, warnings and the end state of one store's attempt."""

    async def _check_store(
        self, store: StorePlan, task: StoreTaskInput, receipt: StoreReceipt, *, fresh: bool
    ) -> bool:
        """Check a verb's receipt and settle the store; True when it reached an end state.

        Args:
            store: The store.
            task: The task the verb ran with (verify reuses it).
            receipt: The verb's receipt (or the one kept from an earlier attempt).
            fresh: Whether the verb ran in this attempt (its attempts are counted).
        """
        name = store.name
        rtype = self._inp.request_type
        erasure = rtype == RequestType.ERASURE
        attempts = self._outcomes[name].attempts + (receipt.attempt if fresh else 0)
        # Keep the receipt visible (and retryable from here) before anything else can fail.
        await self._update_store(
            name, receipt=receipt, attempts=attempts, catalog_digest=receipt.catalog_digest
        )
        nothing = receipt.matched == 0 and not receipt.recovered
        check: VerifyReceipt | None = None
        if erasure and not nothing and not receipt.dry_run and "verify" in store.capabilities:
            try:
                check = await workflow.execute_activity(
                    "verify_store", task, result_type=VerifyReceipt, **store_options(store)
                )
            except ActivityError as err:
                self._resume[name] = receipt
                await self._fail(store, err, "verify_store")
                return False
            if check.residual > 0:
                await self._update_store(
                    name, status=StoreStatus.FAILED_NEEDS_ATTENTION, verification=check,
                    error_type="ResidualData",
                    error=f"{check.residual} matching records remain after erasure",
                )  # fmt: skip
                return False
        report = None
        if "sweep" in store.capabilities and rtype in _SWEPT:
            try:
                report = await self._sweep(store, receipt)
            except ActivityError as err:
                self._resume[name] = receipt
                await self._fail(store, err, "sweep_store")
                return False
        warnings = self._warnings(store, receipt, report)
        self._record_warnings(name, warnings)
        if report is not None and report.hit_count > 0:
            # A dry-run erasure reports what a real one would leave behind: the same failure.
            status = StoreStatus.FAILED_NEEDS_ATTENTION if erasure else StoreStatus.INCOMPLETE
            await self._update_store(
                name, status=status, verification=check, sweep=report, warnings=warnings,
                error_type="ResidualData" if erasure else "IncompleteAccess",
                error=report.reason(),
            )  # fmt: skip
            return False
        await self._update_store(
            name, status=StoreStatus.NOT_FOUND if nothing else StoreStatus.DONE,
            verification=check, sweep=report, warnings=warnings, actor=WORKLOAD,
            error_type=None, error=None,
            # "erased first by request R": a later request for the same subject says so.
            note=(receipt.note or None) if nothing else None,
        )  # fmt: skip
        return True

    async def _sweep(self, store: StorePlan, receipt: StoreReceipt) -> SweepReport:
        """Run the independent sweep; ``after`` says what its hits mean.

        A dry-run erasure was rolled back, so everything is still in place: it sweeps as after
        an access, whose hits are the rows the catalog's mapping would leave behind.
        """
        erased = self._inp.request_type == RequestType.ERASURE and not receipt.dry_run
        inp = SweepInput(
            request_id=self._inp.request_id,
            store=store.name,
            identities=self._identities or self._inp.identities,
            after="erasure" if erased else "access",
            catalog_digest=self._planned_digest(),
        )
        return await workflow.execute_activity(
            "sweep_store", inp, result_type=SweepReport, **store_options(store)
        )

    def _planned_digest(self) -> str | None:
        return self._plan.catalog_digest if self._plan is not None else None

    def _warnings(
        self, store: StorePlan, receipt: StoreReceipt, report: SweepReport | None
    ) -> list[str]:
        """What a person must see about this store's result.

        Fixed phrases only (names and counts, never a value): the evidence record carries them
        and a verifier refuses any other text (``dsrflow.evidence.records.WARNING_PHRASES``).
        Where a warning comes from is the store's own detail (receipt, sweep report).
        """
        warnings = []
        if receipt.recovered:
            warnings.append("counts recovered from an earlier committed attempt")
        if (
            store.identity_source
            and self._resolved.get(store.name) == 0
            and receipt.matched > 0
            and not receipt.recovered
        ):
            # The identity collection is the first that matched nothing (where the receipt has
            # per-collection counts); the store's name where it has none (access).
            empty = [c.collection for c in receipt.collections if c.matched == 0]
            where = empty[0] if empty else store.name
            warnings.append(
                f"identity-source collection {where} matched 0 rows while other collections matched"
            )
        if report is not None:
            if receipt.matched == 0 and not receipt.recovered and report.hit_count > 0:
                warnings.append("matched nothing while the sweep found the subject's identifiers")
            if report.not_swept:
                n = len(report.not_swept)
                warnings.append(f"sweep did not cover {n} location{'s' if n != 1 else ''}")
        return warnings

    def _record_warnings(self, store: str, warnings: list[str]) -> None:
        """Put each new warning in the request's history (the ledger and ``show`` read it)."""
        for text in warnings:
            if (store, text) not in self._warned:
                self._warned.add((store, text))
                self._record(WORKLOAD, "store_warning", text, store)

    def _combine(self, store: str, receipt: StoreReceipt) -> StoreReceipt:
        """The receipt a store's outcome carries after this run of its verb.

        A re-run after an earlier successful run of the same request (a retry after the sweep
        found what the catalog missed, or after a crash between commit and completion) must
        not lose what the first run did: nothing new -> the earlier receipt, marked
        ``recovered``; more erased -> both runs' counts.
        """
        prev = self._outcomes[store].receipt
        if (
            prev is None
            or prev.dry_run
            or receipt.dry_run
            or prev.action != receipt.action
            or receipt.action != "erase"
            or prev.affected == 0
        ):
            return receipt
        if receipt.recovered or receipt.affected == 0:
            return replace(
                prev,
                recovered=True,
                attempt=receipt.attempt,
                catalog_digest=receipt.catalog_digest or prev.catalog_digest,
            )
        return merge_receipts(prev, receipt)


UNLINK = "unlink"  # the SQL adapter's pointer-rule collections (other people's rows)
_SWEPT = (RequestType.ERASURE, RequestType.ACCESS, RequestType.EXPORT)


def merge_receipts(first: StoreReceipt, later: StoreReceipt) -> StoreReceipt:
    """Both runs' counts of an erasure that was run again and erased more (pure).

    Kept collections (nothing changed) are matched again by the later run: their counts are
    not added twice.
    """
    merged: dict[str, CollectionCount] = {c.collection: c for c in first.collections}
    for c in later.collections:
        old = merged.get(c.collection)
        if old is None:
            merged[c.collection] = c
        elif c.affected == 0 and old.affected == 0:
            merged[c.collection] = replace(c, matched=max(c.matched, old.matched))
        else:
            merged[c.collection] = replace(
                c, matched=old.matched + c.matched, affected=old.affected + c.affected
            )
    collections = list(merged.values())
    # Pointer rows (``unlink``) are other people's rows: counted apart, never as hers.
    own = [c for c in collections if c.action != UNLINK]
    matched = sum(c.matched for c in own) if own else first.matched + later.matched
    affected = sum(c.affected for c in own) if own else first.affected + later.affected
    return replace(
        later,
        matched=matched,
        affected=affected,
        started_at=first.started_at,
        collections=collections,
        processor_receipts=first.processor_receipts + later.processor_receipts,
    )
