"""What a store's verb result means (pure): receipts combined, checks wanted, end states."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from dsrflow.domain import RequestType, StorePlan, StoreStatus
from dsrflow.receipts import CollectionCount, StoreReceipt, VerifyReceipt
from dsrflow.sweeps import SweepHit, SweepReport
from dsrflow.workflows.machine import StoreTable
from dsrflow.workflows.machine import checks as c

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ERASE = RequestType.ERASURE


def receipt(matched: int = 2, affected: int = 2, **kw: object) -> StoreReceipt:
    base = StoreReceipt("shop", "sql", "1", "erase", matched, affected, "d", T0, T0)
    return replace(base, **kw)  # type: ignore[arg-type]


def test_a_rerun_that_erased_nothing_keeps_the_first_run_s_counts_as_recovered() -> None:
    first = receipt(attempt=1)
    again = receipt(0, 0, attempt=3, catalog_digest="sha256:new")
    combined = c.combine(first, again)
    assert combined.recovered and (combined.matched, combined.affected) == (2, 2)
    assert (combined.attempt, combined.catalog_digest) == (3, "sha256:new")
    assert c.combine(None, again) is again
    assert c.combine(receipt(dry_run=True), again) is again


def test_a_rerun_that_erased_more_adds_its_counts_but_not_kept_collections_twice() -> None:
    first = receipt(3, 3, collections=[
        CollectionCount("users", "delete", 1, 1), CollectionCount("logs", "keep", 2, 0),
    ])  # fmt: skip
    later = receipt(4, 2, collections=[
        CollectionCount("orders", "delete", 2, 2), CollectionCount("logs", "keep", 2, 0),
        CollectionCount("links", "unlink", 5, 5),
    ])  # fmt: skip
    merged = c.merge_receipts(first, later)
    assert {x.collection: x.matched for x in merged.collections} == {
        "users": 1, "logs": 2, "orders": 2, "links": 5,
    }  # fmt: skip
    assert (merged.matched, merged.affected) == (5, 3)  # other people's rows not counted


def test_which_checks_follow_a_verb() -> None:
    both = StorePlan("shop", "sql", ["erase", "verify", "sweep"])
    assert c.wants_verify(ERASE, both, receipt())
    assert not c.wants_verify(ERASE, both, receipt(0, 0))  # nothing matched: nothing to verify
    assert not c.wants_verify(ERASE, both, receipt(dry_run=True))
    assert not c.wants_verify(RequestType.ACCESS, both, receipt())
    assert c.wants_sweep(RequestType.ACCESS, both) and c.wants_sweep(ERASE, both)
    assert not c.wants_sweep(RequestType.RECTIFICATION, both)
    assert c.sweep_after(ERASE, receipt()) == "erasure"
    assert c.sweep_after(ERASE, receipt(dry_run=True)) == "access"


def test_residual_records_after_erasure_park_the_store() -> None:
    assert c.residual(VerifyReceipt("shop", 0, T0, "d")) is None
    failed = c.residual(VerifyReceipt("shop", 3, T0, "d"))
    assert failed is not None and failed["status"] == StoreStatus.FAILED_NEEDS_ATTENTION
    assert failed["error"] == "3 matching records remain after erasure"


def test_sweep_hits_fail_an_erasure_and_leave_an_access_incomplete() -> None:
    hits = SweepReport("shop", "sql", hits=[SweepHit("users.email", 2, "email")])
    erased = c.settle(ERASE, receipt(), None, hits, [])
    assert not erased.ended and erased.changes["status"] == StoreStatus.FAILED_NEEDS_ATTENTION
    access = c.settle(RequestType.ACCESS, receipt(), None, hits, [])
    assert access.changes["status"] == StoreStatus.INCOMPLETE
    assert access.changes["error_type"] == "IncompleteAccess"
    clean = c.settle(ERASE, receipt(0, 0, note="erased first by request r-0"), None, None, [])
    assert clean.ended and clean.changes["status"] == StoreStatus.NOT_FOUND
    assert clean.changes["note"] == "erased first by request r-0"


def test_warnings_are_fixed_phrases_recorded_once() -> None:
    table = StoreTable()
    source = StorePlan("crm", "sql", ["erase"], identity_source=True)
    table.resolved["crm"] = 0
    report = SweepReport("crm", "sql", not_swept=["a", "b"])
    warnings = c.warnings_for(
        table, source, receipt(collections=[CollectionCount("ids", "delete", 0, 0)]), report
    )
    assert warnings == [
        "identity-source collection ids matched 0 rows while other collections matched",
        "sweep did not cover 2 locations",
    ]
    assert c.new_warnings(table, "crm", warnings) == warnings
    assert c.new_warnings(table, "crm", warnings) == []


def test_a_failure_keeps_the_first_line_only() -> None:
    changes = c.failure("PermanentStoreError", "table missing\nTraceback ...", 7)
    assert changes["error"] == "table missing" and changes["attempts"] == 7
