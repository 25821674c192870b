"""A retried access-package assembly never produces a package that claims records it lacks.

The first attempt zips the staged records and drops staging; if the worker dies before Temporal
hears of it, the retry finds no staging. It used to write a fresh package holding only the
manifest ("shop: 3 records") over the good one.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from dsrflow.activities.results import PACKAGE_ATTEMPTS, ResultActivities
from dsrflow.adapters.sdk import Record
from dsrflow.artifacts import PACKAGE, ArtifactStore
from dsrflow.crypto.keystore import KeyStore
from dsrflow.domain import AssembleInput, RequestType, StoreOutcome, StoreReceipt, StoreStatus
from dsrflow.ledger import Ledger
from tests.fixtures.packages import open_package, package_json, records_by_store


@pytest.fixture
def artifacts(tmp_path: Path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)
    yield ArtifactStore(tmp_path / "artifacts", KeyStore(ledger, b"k" * 32))
    ledger.close()


def outcome(store: str, records: int, status: StoreStatus = StoreStatus.DONE) -> StoreOutcome:
    now = datetime.now(UTC)
    receipt = StoreReceipt(store, "sql", "1", "access", records, 0, "sha256:x", now, now)
    return StoreOutcome(store, "sql", status, receipt=receipt)


def stage(artifacts: ArtifactStore, rid: str, store: str, n: int) -> None:
    recs = [Record("customers", {"id": i, "email": f"p{i}@example.com"}) for i in range(n)]
    assert artifacts.stage_records(rid, store, recs) == n


def members(artifacts: ArtifactStore, path: Path) -> dict[str, int]:
    """Records per store in the package (schema-validated)."""
    return records_by_store(package_json(open_package(artifacts, path)))


def test_a_retry_after_success_returns_the_same_full_package(artifacts: ArtifactStore) -> None:
    acts = ResultActivities(artifacts, issuer_factory=lambda: None)  # type: ignore[arg-type]
    stage(artifacts, "r-1", "shop", 3)
    stage(artifacts, "r-1", "support", 2)
    inp = AssembleInput("r-1", RequestType.ACCESS, [
        outcome("shop", 3), outcome("support", 2), outcome("crm", 0, StoreStatus.NOT_FOUND),
    ])  # fmt: skip
    first = ActivityEnvironment().run(acts.assemble_access_package, inp)
    assert members(artifacts, Path(first.path)) == {"shop": 3, "support": 2}  # fmt: skip
    assert not (artifacts.dir("r-1") / "staging").exists()
    # The worker died before completing: Temporal runs the activity again, staging is gone.
    again = ActivityEnvironment().run(acts.assemble_access_package, inp)
    assert again == first
    assert members(artifacts, Path(again.path)) == {"shop": 3, "support": 2}  # fmt: skip


def test_staged_records_that_differ_from_the_receipt_fail(artifacts: ArtifactStore) -> None:
    acts = ResultActivities(artifacts, issuer_factory=lambda: None)  # type: ignore[arg-type]
    stage(artifacts, "r-2", "shop", 2)
    inp = AssembleInput("r-2", RequestType.ACCESS, [outcome("shop", 3)])
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as err:
        env.run(acts.assemble_access_package, inp)
    assert err.value.type == "PackageIncomplete" and not err.value.non_retryable
    assert "shop (receipt 3, staged 2)" in err.value.message
    assert "@example.com" not in err.value.message
    assert not (artifacts.dir("r-2") / PACKAGE).exists()  # no package claiming 3 records
    env.info = dataclasses.replace(env.info, attempt=PACKAGE_ATTEMPTS)
    with pytest.raises(ApplicationError) as last:
        env.run(acts.assemble_access_package, inp)
    assert last.value.non_retryable  # then loudly


def test_missing_staging_without_an_earlier_package_fails(artifacts: ArtifactStore) -> None:
    acts = ResultActivities(artifacts, issuer_factory=lambda: None)  # type: ignore[arg-type]
    stage(artifacts, "r-3", "support", 1)
    inp = AssembleInput("r-3", RequestType.ACCESS, [outcome("shop", 4), outcome("support", 1)])
    with pytest.raises(ApplicationError, match=r"no staged records for store\(s\) shop"):
        ActivityEnvironment().run(acts.assemble_access_package, inp)
    assert not (artifacts.dir("r-3") / PACKAGE).exists()


def test_a_tampered_package_is_not_returned_on_retry(artifacts: ArtifactStore) -> None:
    acts = ResultActivities(artifacts, issuer_factory=lambda: None)  # type: ignore[arg-type]
    stage(artifacts, "r-4", "shop", 2)
    inp = AssembleInput("r-4", RequestType.ACCESS, [outcome("shop", 2)])
    ref = ActivityEnvironment().run(acts.assemble_access_package, inp)
    Path(ref.path).write_bytes(Path(ref.path).read_bytes()[:-10])
    with pytest.raises(ApplicationError, match="changed after assembly"):
        ActivityEnvironment().run(acts.assemble_access_package, inp)
    counts = json.loads((artifacts.dir("r-4") / "access-package.counts.json").read_text())
    assert counts["records"] == {"shop": 2}
