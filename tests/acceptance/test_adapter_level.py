"""Issue 8, "Must show", at the adapter: access, the independent sweep and erasure of the
newcomer's shop through the store's real adapter (built by ``AdapterPool`` from the catalog).

Written against the issue and the contracts in notes/COMMON.md, not against the code of the
day: matching is case-insensitive and trimmed for e-mails, never merges the plus-tag customer,
and the sweep searches every table and text column, mapped or not.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.adapters.sdk import AdapterError, Capability, Subject, SweepBudget
from dsrflow.catalog import load_catalog
from dsrflow.catalog.pool import AdapterPool
from dsrflow.cli.requests import parse_identities
from dsrflow.domain import Identity
from tests.acceptance.newcomer import (
    FK_NAMES,
    MAPPED_SUBJECT_ROWS,
    PLUS_TAG_CUSTOMER,
    SUBJECT_ROWS,
    SUBMITTED_EMAIL,
    UNMAPPED_HIT,
    NewcomerStore,
    canaries_in,
    hit_counts,
    others,
    subject_rows_left,
    without_noah_pointer,
)


@pytest.fixture
def pool_for(shop: NewcomerStore) -> Iterator:
    """``pool_for(catalog_name, drop=())`` -> an AdapterPool on the rendered catalog."""
    pools: list[AdapterPool] = []

    def make(name: str = "catalog.yaml", drop: tuple[str, ...] = ()) -> AdapterPool:
        registry = AdapterRegistry.from_entry_points()
        catalog = load_catalog(shop.render(name, drop), registry)
        pool = AdapterPool(catalog, registry, {})
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()


def subject_of(adapter: object) -> Subject:
    """The subject as the workflow builds it: what the CLI sends, plus what the identity
    source resolves (her customer id)."""
    submitted = parse_identities([SUBMITTED_EMAIL], [])
    found = adapter.resolve_identities(Subject.of(submitted))  # type: ignore[attr-defined]
    return Subject.of([*submitted, *found])


def ids_by_collection(records: list) -> dict[str, list[int]]:
    got: dict[str, list[int]] = {}
    for rec in records:
        got.setdefault(rec.collection, []).append(int(rec.data["id"]))
    return {k: sorted(v) for k, v in got.items()}


def test_identity_resolution_finds_her_and_only_her(shop: NewcomerStore, pool_for) -> None:
    adapter = pool_for().get("shop")
    submitted = parse_identities([SUBMITTED_EMAIL], [])
    found = adapter.resolve_identities(Subject.of(submitted))
    # The stored address is 'Mia.Park+shop@Example.org': matched case-insensitively, while the
    # plus-tag customer (mia.park@example.org) is another person and never merged.
    assert Identity("customer_id", "1") in found
    assert Identity("customer_id", str(PLUS_TAG_CUSTOMER)) not in found


def test_access_returns_every_mapped_row_of_hers(shop: NewcomerStore, pool_for) -> None:
    before = shop.dump()
    adapter = pool_for().get("shop")
    records = list(adapter.access(subject_of(adapter)))
    # Her 9 rows in the 5 tables the newcomer mapped: the mixed-case customer row, the padded
    # upper-case newsletter row, and everything reached from her customer id. Nobody else's.
    assert ids_by_collection(records) == {t: sorted(ids) for t, ids in MAPPED_SUBJECT_ROWS.items()}
    assert shop.dump() == before


def test_access_with_the_fixed_catalog_returns_all_12_and_not_noah(
    shop: NewcomerStore, pool_for
) -> None:
    adapter = pool_for("catalog-fixed.yaml").get("shop")
    records = list(adapter.access(subject_of(adapter)))
    # Noah's row points at her (referrer_id) but is not hers: never in her package.
    assert ids_by_collection(records) == {t: sorted(ids) for t, ids in SUBJECT_ROWS.items()}


def test_sweep_finds_her_identifiers_everywhere_and_only_hers(
    shop: NewcomerStore, pool_for
) -> None:
    """Before any erasure the independent sweep must see all three places her e-mail is
    stored (two of them outside any match the catalog declares by case), counting neither the
    plus-tag customer's rows nor anyone else's."""
    before = shop.dump()
    adapter = pool_for().get("shop")
    assert Capability.SWEEP in adapter.capabilities
    report = adapter.sweep(subject_of(adapter), SweepBudget(), after="erasure")
    assert hit_counts(report) == {
        "customers.email": 1,
        "newsletter_signups.email": 1,
        UNMAPPED_HIT: 1,
    }
    # Every table and text column is searched, mapped or not; nothing was out of budget.
    for location in ("customers.email", "newsletter_signups.email", UNMAPPED_HIT, "reviews.body"):
        assert location in report.searched
    assert report.complete, report.not_swept
    assert "email" in report.kinds
    assert canaries_in(repr(report)) == []
    assert shop.dump() == before


def test_sweep_after_access_names_the_unmapped_table(shop: NewcomerStore, pool_for) -> None:
    adapter = pool_for().get("shop")
    report = adapter.sweep(subject_of(adapter), SweepBudget(), after="access")
    hits = hit_counts(report)
    # signin_log is in no collection, so no access package can hold its row: it is a hit,
    # counted once (the plus-tag customer's sign-in is not hers).
    assert hits.get(UNMAPPED_HIT) == 1
    assert f"{UNMAPPED_HIT} (1 row)" in report.reason()
    assert canaries_in(report.reason()) == []


def test_erase_with_the_newcomer_catalog_is_all_or_nothing(shop: NewcomerStore, pool_for) -> None:
    """Reviews and Noah's referrer_id point at her customer row and the catalog declares
    neither: the erasure cannot complete, so it must change nothing at all and name the
    constraint (or referencing table.column) that blocks it, never a value."""
    before = shop.dump()
    adapter = pool_for().get("shop")
    subject = subject_of(adapter)
    with pytest.raises(AdapterError) as err:
        adapter.erase(subject)
    message = str(err.value)
    assert any(name in message for name in FK_NAMES), message
    assert "\n" not in message and canaries_in(message) == []
    assert shop.dump() == before


def test_erase_with_the_fixed_catalog_leaves_nothing_and_nobody_else_changes(
    shop: NewcomerStore, pool_for
) -> None:
    before = shop.dump()
    adapter = pool_for("catalog-fixed.yaml").get("shop")
    subject = subject_of(adapter)
    receipt = adapter.erase(subject)
    assert canaries_in(repr(receipt)) == []
    after = shop.dump()
    assert subject_rows_left(after) == {}
    # The plus-tag customer and every other row byte-identical; Noah's row only lost the
    # pointer to her (the fixed catalog's pointer rule).
    assert others(after) == without_noah_pointer(before)
    # The independent sweep and verify agree that nothing is left.
    report = adapter.sweep(subject, SweepBudget(), after="erasure")
    assert report.hit_count == 0 and report.complete, (report.hits, report.not_swept)
    assert adapter.verify(subject).matched == 0
    assert list(adapter.access(subject)) == []


def test_an_unmapped_table_is_a_sweep_hit_after_erasure(shop: NewcomerStore, pool_for) -> None:
    """Everything mapped but signin_log: the erase itself succeeds, and the sweep (a different
    path than the erase) still finds her there, named by table.column with the count only."""
    before = shop.dump()
    adapter = pool_for("catalog-fixed.yaml", drop=("signin_log",)).get("shop")
    subject = subject_of(adapter)
    adapter.erase(subject)
    report = adapter.sweep(subject, SweepBudget(), after="erasure")
    assert hit_counts(report) == {UNMAPPED_HIT: 1}
    assert report.reason() == (
        f"subject still found in {UNMAPPED_HIT} (1 row): the catalog's mapping misses them"
    )
    after = shop.dump()
    assert subject_rows_left(after) == {"signin_log": [1]}
    assert others(after) == without_noah_pointer(before)
