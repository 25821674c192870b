"""The receipt journal: an erasure's first success survives its own re-execution.

Real SQLite demo stores and a real SQLite ledger; the activities run in Temporal's activity
test environment (real activity context, no server).
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from dsrflow.activities.stores import StoreActivities
from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.adapters.sdk import AdapterContext, AdapterError, OperationReceipt, Subject
from dsrflow.adapters.sql import SqlAdapter
from dsrflow.artifacts import ArtifactStore
from dsrflow.catalog import load_catalog, yamlpos
from dsrflow.catalog.pool import AdapterPool
from dsrflow.crypto.keystore import KeyStore
from dsrflow.domain import Identity, RequestType, StoreTaskInput
from dsrflow.ledger import Ledger
from dsrflow.ledger.journal import BLIND_INDEX_OWNER, ReceiptJournal
from dsrflow.ledger.models import JournalEntryRow, JournalSubjectRow

ALICE = [Identity("email", "alice@example.com"), Identity("customer_id", "1")]


class _Rollback(AdapterError):
    pass


class DryRunSql(SqlAdapter):
    """A real SQL store that can also dry-run: the receipt is taken, then the work rolled back."""

    name = "dryrun-sql"
    supports_dry_run = True

    def erase(self, subject: Subject, progress: Any = None, *, on_commit: Any = None,
              dry_run: bool = False) -> OperationReceipt:  # fmt: skip
        if not dry_run:
            return super().erase(subject, progress, on_commit=on_commit)
        seen: list[OperationReceipt] = []

        def capture(op: OperationReceipt) -> None:
            seen.append(op)
            raise _Rollback

        with contextlib.suppress(_Rollback):
            super().erase(subject, progress, on_commit=capture)
        return seen[0]


class NoHookSql(SqlAdapter):
    """A real SQL store whose adapter does not offer the in-transaction hook."""

    name = "nohook-sql"
    supports_on_commit = False
    supports_dry_run = False

    def erase(self, subject: Subject, progress: Any = None) -> OperationReceipt:  # type: ignore[override]
        return super().erase(subject, progress)


def _registry() -> AdapterRegistry:
    from importlib.metadata import entry_points

    from dsrflow.adapters.registry import GROUP

    return AdapterRegistry(
        {ep.name: ep for ep in entry_points(group=GROUP)},
        classes={"dryrun-sql": DryRunSql, "nohook-sql": NoHookSql},
    )


@pytest.fixture
def acts(demo_dir: Path, tmp_path: Path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)
    keystore = KeyStore(ledger, b"k" * 32)
    catalog = load_catalog(demo_dir / "catalog.yaml", _registry())
    pool = AdapterPool(catalog, _registry(), {})
    journal = ReceiptJournal(ledger, lambda: keystore.key_for(BLIND_INDEX_OWNER)[1])
    yield StoreActivities(pool, ArtifactStore(tmp_path / "artifacts", keystore), journal=journal)
    pool.close()
    ledger.close()


def task(rid: str, identities: list[Identity] = ALICE, store: str = "shop", **kw: Any):
    return StoreTaskInput(rid, store, RequestType.ERASURE, identities, **kw)


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def test_rerun_after_commit_returns_the_journaled_receipt(acts, demo_dir: Path) -> None:
    env = ActivityEnvironment()
    first = env.run(acts.erase_store, task("r-1"))
    assert first.affected == 6 and not first.recovered
    assert first.catalog_digest == acts.pool.catalog.digest and first.dry_run is False
    # The re-run (a retried activity, or retry-store) finds nothing left to erase...
    again = env.run(acts.erase_store, task("r-1"))
    # ...and says what the first run did, never "nothing found".
    assert again.recovered is True
    assert (again.matched, again.affected) == (first.matched, first.affected)
    assert again.collections == first.collections
    assert again.started_at == first.started_at
    row = acts.journal.committed("r-1", "shop", "erase")
    assert row is not None and row.confirmed and row.receipt == first


def test_journal_holds_counts_and_blind_index_only(acts) -> None:
    ActivityEnvironment().run(acts.erase_store, task("r-1"))
    with acts.journal.ledger.session() as s:
        entry = s.get(JournalEntryRow, ("r-1", "shop", "erase"))
        tokens = [r.token for r in s.query(JournalSubjectRow)]
        dump = repr(entry.receipt) + repr(tokens)
    assert len(tokens) == 2 and all(len(t) == 64 for t in tokens)
    assert "alice" not in dump.lower() and "example.com" not in dump
    # Same key, same normalised identifier -> same token (upper case and spaces normalise away).
    assert acts.journal.blind_index([Identity("email", " Alice@Example.COM ")])[0] in tokens


def test_a_journal_that_cannot_write_rolls_the_erasure_back(acts, demo_dir: Path) -> None:
    with acts.journal.ledger.engine.begin() as conn:
        conn.execute(text("DROP TABLE receipt_journal_subjects"))
    with pytest.raises(ApplicationError) as err:
        ActivityEnvironment().run(acts.erase_store, task("r-1"))
    assert err.value.type == "RetryableStoreError" and not err.value.non_retryable
    assert "the erasure was rolled back" in err.value.message
    assert count(demo_dir / "stores" / "shop.db", "SELECT count(*) FROM customers WHERE id = 1")


def test_a_later_request_for_the_same_subject_names_who_erased_first(acts) -> None:
    env = ActivityEnvironment()
    env.run(acts.erase_store, task("first"))
    later = env.run(acts.erase_store, task("second", [Identity("email", "ALICE@example.com")]))
    assert later.matched == 0 and not later.recovered
    assert later.note == "erased first by request first"
    # Linked in the ledger (by the blind index), though "second" changed nothing.
    assert acts.journal.linked("first") == ["second"]
    assert acts.journal.linked("second") == ["first"]
    other = env.run(acts.erase_store, task("third", [Identity("email", "nobody@example.com")]))
    assert other.matched == 0 and other.note is None
    assert acts.journal.linked("third") == []


def test_other_subjects_requests_are_not_linked(acts) -> None:
    env = ActivityEnvironment()
    env.run(acts.erase_store, task("a", [Identity("email", "alice@example.com")]))
    env.run(acts.erase_store, task("b", [Identity("email", "bob@example.com")]))
    env.run(acts.erase_store, task("c", [Identity("email", "alice@example.com")], store="support"))
    assert acts.journal.linked("a") == ["c"]
    assert acts.journal.erased_first("z", "shop", acts.journal.blind_index(ALICE[:1])) == "a"


def test_adapters_without_the_hook_are_journaled_after_erase(acts, demo_dir: Path) -> None:
    _use_adapter(acts, demo_dir, "nohook-sql")
    env = ActivityEnvironment()
    first = env.run(acts.erase_store, task("r-1"))
    assert first.affected == 6
    again = env.run(acts.erase_store, task("r-1"))
    assert again.recovered and again.affected == 6


def test_dry_run_is_passed_on_and_never_journaled(acts, demo_dir: Path) -> None:
    env = ActivityEnvironment()
    _use_adapter(acts, demo_dir, "nohook-sql")
    with pytest.raises(ApplicationError, match="store 'shop' cannot do a dry run") as err:
        env.run(acts.erase_store, task("r-1", dry_run=True))
    assert err.value.type == "NotSupported"
    _use_adapter(acts, demo_dir, "dryrun-sql")
    dry = env.run(acts.erase_store, task("r-1", dry_run=True))
    assert dry.dry_run is True and dry.affected == 6
    assert count(demo_dir / "stores" / "shop.db", "SELECT count(*) FROM customers WHERE id = 1")
    assert acts.journal.committed("r-1", "shop", "erase") is None
    real = env.run(acts.erase_store, task("r-1"))
    assert real.affected == 6 and not real.recovered and not real.dry_run


def _use_adapter(acts: StoreActivities, demo_dir: Path, name: str) -> None:
    import yaml

    path = demo_dir / "catalog.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["stores"]["shop"]["adapter"] = name
    path.write_text(yamlpos.dump(raw))
    acts.pool.close()
    acts.pool = AdapterPool(load_catalog(path, _registry()), _registry(), {})


def test_on_commit_runs_inside_the_transaction(demo_dir: Path) -> None:
    import yaml

    from dsrflow.adapters.sql import SqlConfig

    raw = yaml.safe_load((demo_dir / "catalog.yaml").read_text())["stores"]["shop"]
    cfg = SqlConfig.model_validate({k: raw[k] for k in ("connection", "collections")})
    adapter = SqlAdapter.create(cfg, AdapterContext("shop", demo_dir, {}))
    db = demo_dir / "stores" / "shop.db"
    seen: list[int] = []

    def boom(op: OperationReceipt) -> None:
        # Not committed yet: another connection still sees the row.
        seen.append(count(db, "SELECT count(*) FROM customers WHERE id = 1"))
        raise RuntimeError("journal down")

    alice = Subject.of(ALICE)
    with pytest.raises(Exception, match="RuntimeError while erasing"):
        adapter.erase(alice, on_commit=boom)
    assert seen == [1]
    assert count(db, "SELECT count(*) FROM customers WHERE id = 1") == 1
    receipts: list[OperationReceipt] = []
    done = adapter.erase(alice, on_commit=receipts.append)
    assert receipts == [done] and done.affected == 6
    adapter.close()


def test_a_journal_failure_after_the_store_committed_keeps_the_receipt(
    acts, demo_dir: Path
) -> None:
    # Adapters without the hook commit first: a broken journal must not lose the receipt.
    _use_adapter(acts, demo_dir, "nohook-sql")
    with acts.journal.ledger.engine.begin() as conn:
        conn.execute(text("DROP TABLE receipt_journal_subjects"))
    receipt = ActivityEnvironment().run(acts.erase_store, task("r-1"))
    assert receipt.affected == 6 and not receipt.recovered
    assert not count(demo_dir / "stores" / "shop.db", "SELECT count(*) FROM customers WHERE id = 1")


def test_nothing_to_erase_needs_the_journal_to_say_so(acts) -> None:
    env = ActivityEnvironment()
    nobody = task("r-9", [Identity("email", "nobody@example.com")])
    with acts.journal.ledger.engine.begin() as conn:
        conn.execute(text("DROP TABLE receipt_journal_subjects"))
    # The link to other requests is lost (logged), the answer is not.
    assert env.run(acts.erase_store, nobody).matched == 0
    with acts.journal.ledger.engine.begin() as conn:
        conn.execute(text("DROP TABLE receipt_journal"))
    # Whether an earlier attempt erased her cannot be told: retried, never "not found".
    with pytest.raises(ApplicationError) as err:
        env.run(acts.erase_store, nobody)
    assert err.value.type == "RetryableStoreError" and "cannot be read" in err.value.message
