"""What a store's verb result means: which checks follow, warnings, the store's end state.

Pure: no Temporal import, no I/O. The order per store is verb -> verify (erasure) -> sweep
(stores declaring ``sweep``), both checks in one ``check_store`` activity for requests started
since patch ``check-store``. A ``retry-store`` resumes at the step that failed: when the verb
had succeeded and only verify or the sweep could not run, the kept receipt is checked again
instead of running the verb twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dsrflow.domain import (
    CollectionCount,
    RequestType,
    StorePlan,
    StoreReceipt,
    StoreStatus,
    VerifyReceipt,
)
from dsrflow.redact import first_line
from dsrflow.sweeps import SweepReport
from dsrflow.workflows.machine.rules import SWEPT, WORKLOAD
from dsrflow.workflows.machine.stores import StoreTable

UNLINK = "unlink"  # the SQL adapter's pointer-rule collections (other people's rows)


@dataclass(frozen=True)
class Settlement:
    """A store's state after its checks: the outcome's changes, and whether it ended."""

    changes: dict[str, Any]
    ended: bool


def wants_verify(rtype: RequestType, store: StorePlan, receipt: StoreReceipt) -> bool:
    """Whether an erasure's receipt is verified (something matched, the store can verify)."""
    nothing = receipt.matched == 0 and not receipt.recovered
    return (
        rtype == RequestType.ERASURE
        and not nothing
        and not receipt.dry_run
        and "verify" in store.capabilities
    )


def wants_sweep(rtype: RequestType, store: StorePlan) -> bool:
    """Whether the store is swept after its verb."""
    return "sweep" in store.capabilities and rtype in SWEPT


def sweep_after(rtype: RequestType, receipt: StoreReceipt) -> str:
    """What a sweep's hits mean: a dry-run erasure was rolled back, so it sweeps as an access."""
    return "erasure" if rtype == RequestType.ERASURE and not receipt.dry_run else "access"


def residual(check: VerifyReceipt) -> dict[str, Any] | None:
    """The failure a verification with records left reports (None when nothing is left)."""
    if check.residual <= 0:
        return None
    return {
        "status": StoreStatus.FAILED_NEEDS_ATTENTION,
        "verification": check,
        "error_type": "ResidualData",
        "error": f"{check.residual} matching records remain after erasure",
    }


def failure(error_type: str, message: str, attempts: int) -> dict[str, Any]:
    """A store's outcome changes after its activity failed (first line of the message only)."""
    return {
        "status": StoreStatus.FAILED_NEEDS_ATTENTION,
        "error_type": error_type,
        "error": first_line(message),
        "attempts": attempts,
    }


def settle(
    rtype: RequestType,
    receipt: StoreReceipt,
    check: VerifyReceipt | None,
    report: SweepReport | None,
    warnings: list[str],
) -> Settlement:
    """The end of one checked attempt: done / not found, or waiting for a person."""
    erasure = rtype == RequestType.ERASURE
    if report is not None and report.hit_count > 0:
        # A dry-run erasure reports what a real one would leave behind: the same failure.
        status = StoreStatus.FAILED_NEEDS_ATTENTION if erasure else StoreStatus.INCOMPLETE
        return Settlement(
            {"status": status, "verification": check, "sweep": report, "warnings": warnings,
             "error_type": "ResidualData" if erasure else "IncompleteAccess",
             "error": report.reason()},
            ended=False,
        )  # fmt: skip
    nothing = receipt.matched == 0 and not receipt.recovered
    return Settlement(
        {"status": StoreStatus.NOT_FOUND if nothing else StoreStatus.DONE,
         "verification": check, "sweep": report, "warnings": warnings, "actor": WORKLOAD,
         "error_type": None, "error": None,
         # "erased first by request R": a later request for the same subject says so.
         "note": (receipt.note or None) if nothing else None},
        ended=True,
    )  # fmt: skip


def warnings_for(
    table: StoreTable, store: StorePlan, receipt: StoreReceipt, report: SweepReport | None
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
        and table.resolved.get(store.name) == 0
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


def new_warnings(table: StoreTable, store: str, warnings: list[str]) -> list[str]:
    """The warnings not yet put in the request's history for this store (marked as put)."""
    fresh = [w for w in warnings if (store, w) not in table.warned]
    table.warned.update((store, w) for w in fresh)
    return fresh


def combine(previous: StoreReceipt | None, receipt: StoreReceipt) -> StoreReceipt:
    """The receipt a store's outcome carries after this run of its verb.

    A re-run after an earlier successful run of the same request (a retry after the sweep
    found what the catalog missed, or after a crash between commit and completion) must
    not lose what the first run did: nothing new -> the earlier receipt, marked
    ``recovered``; more erased -> both runs' counts.
    """
    prev = previous
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


def merge_receipts(first: StoreReceipt, later: StoreReceipt) -> StoreReceipt:
    """Both runs' counts of an erasure that was run again and erased more.

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
