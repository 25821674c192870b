"""The ``check_store`` activity on a real SQLite store: the verification and the sweep by their
own paths, records left stopping before the sweep, heartbeats, typed errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from dsrflow.activities.checks import CheckActivities
from dsrflow.activities.stores import StoreActivities
from dsrflow.activities.sweep import SweepActivities
from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.artifacts import ArtifactStore
from dsrflow.catalog.loader import load_catalog
from dsrflow.catalog.pool import AdapterPool
from dsrflow.crypto.keystore import KeyStore
from dsrflow.domain import CheckInput, CheckResult, Identity
from dsrflow.ledger import Ledger
from dsrflow.ledger.journal import BLIND_INDEX_OWNER, ReceiptJournal

CANARY = "canary.k4q@example.org"

CATALOG = """\
version: 1
stores:
  shop:
    adapter: sql
    connection: {url: "sqlite:///shop.db"}
    collections:
      customers:
        identities: {email: email}
  desk:
    adapter: manual
    instructions: "Delete the subject in the helpdesk."
"""


@pytest.fixture
def checks(tmp_path: Path) -> Iterator[tuple[CheckActivities, Path]]:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(100));"
            "CREATE TABLE signin_log (id INTEGER PRIMARY KEY, who VARCHAR(100));"
            f"INSERT INTO customers VALUES (1, '{CANARY}'), (2, 'other@example.org');"
            f"INSERT INTO signin_log VALUES (1, '{CANARY}');"
        )
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    registry = AdapterRegistry.from_entry_points()
    pool = AdapterPool(load_catalog(tmp_path / "catalog.yaml", registry), registry, {})
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)
    keystore = KeyStore(ledger, b"k" * 32)
    journal = ReceiptJournal(ledger, lambda: keystore.key_for(BLIND_INDEX_OWNER)[1])
    stores = StoreActivities(pool, ArtifactStore(tmp_path / "artifacts", keystore), journal=journal)
    yield CheckActivities(stores, SweepActivities(pool)), db
    pool.close()
    ledger.close()


def run(acts: CheckActivities, store: str, *, verify: bool, after: str | None):  # type: ignore[no-untyped-def]
    inp = CheckInput("req-1", store, [Identity("email", CANARY)], verify=verify,
                     sweep_after=after, catalog_digest="sha256:planned")  # fmt: skip
    beats: list[object] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *d: beats.append(d)
    result: CheckResult = env.run(acts.check_store, inp)
    return result, beats


def test_records_left_stop_before_the_sweep(checks: tuple[CheckActivities, Path]) -> None:
    acts, _ = checks
    result, beats = run(acts, "shop", verify=True, after="erasure")
    assert result.verification is not None and result.verification.residual == 1
    assert result.report is None and beats == []  # the store waits for a person either way


def test_nothing_left_then_the_independent_sweep_runs(checks: tuple[CheckActivities, Path]) -> None:
    acts, db = checks
    with sqlite3.connect(db) as conn:  # the erasure of what the catalog maps
        conn.execute("DELETE FROM customers WHERE email = ?", (CANARY,))
    result, beats = run(acts, "shop", verify=True, after="erasure")
    assert result.verification is not None and result.verification.residual == 0
    assert result.report is not None
    # The sweep finds what the catalog does not map: its own path, not the verification's.
    assert [(h.location, h.count) for h in result.report.hits] == [("signin_log.who", 1)]
    assert result.report.catalog_digest == acts.sweeps.pool.catalog.digest
    assert beats  # one between the checks, then the sweep's own
    only_sweep, _ = run(acts, "shop", verify=False, after="access")  # a batch member, an access
    assert only_sweep.verification is None and only_sweep.report is not None


def test_errors_stay_typed(checks: tuple[CheckActivities, Path]) -> None:
    acts, _ = checks
    for verify, after in ((True, None), (False, "erasure")):
        with pytest.raises(ApplicationError) as err:
            run(acts, "desk", verify=verify, after=after)
        assert err.value.type == "NotSupported" and err.value.non_retryable, (verify, after)
        assert CANARY not in str(err.value)
