"""The ledger on PostgreSQL (its production database): migrations, projection order, keys."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import dsrflow.tlog.models  # noqa: F401 - part of the schema
from dsrflow.crypto.keystore import KeyDestroyedError, KeyStore
from dsrflow.domain import (
    ProjectionEvent,
    RequestStatus,
    RequestType,
    StoreOutcome,
    StoreStatus,
)
from dsrflow.ledger import Ledger
from dsrflow.ledger.migrate import LedgerBehindError
from dsrflow.ledger.models import Base

pytestmark = pytest.mark.postgres


@pytest.fixture
def ledger(pg_database: str) -> Ledger:
    ledger = Ledger(f"postgresql://postgres@127.0.0.1:5432/{pg_database}", migrate=True)
    yield ledger
    ledger.close()


def test_an_unmigrated_database_is_refused_then_upgraded(pg_database: str) -> None:
    url = f"postgresql://postgres@127.0.0.1:5432/{pg_database}"
    with pytest.raises(LedgerBehindError, match="has no schema yet; run `dsrflow ledger upgrade`"):
        Ledger(url)
    Ledger(url, migrate=True).close()
    Ledger(url).close()  # now at this dsrflow's revision: opens


def test_migrations_match_the_models_on_postgres(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def event(seq: int, status: StoreStatus) -> ProjectionEvent:
    return ProjectionEvent(
        request_id="dsr-pg-1",
        request_type=RequestType.ERASURE,
        status=RequestStatus.RUNNING,
        received_at=datetime(2026, 1, 5, tzinfo=UTC),
        stores=[StoreOutcome(store="paper", adapter="manual", status=status)],
        seq=seq,
    )


def test_concurrent_snapshots_end_with_the_newest(ledger: Ledger) -> None:
    """Threads apply snapshots out of order; the highest sequence number must win."""
    statuses = [StoreStatus.WAITING_FOR_HUMAN] * 39 + [StoreStatus.DONE]
    events = [event(i + 1, s) for i, s in enumerate(statuses)]
    ledger.apply(events[0])  # the row exists; the race is on updating it
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(ledger.apply, reversed(events[1:])))
    row = ledger.get_request("dsr-pg-1")
    assert row.projection_seq == 40 and row.stores[0].status == "done"
    [task] = ledger.tasks(open_only=False)
    assert task.closed_at is not None and task.outcome == "done"


def test_keys_are_created_once_under_concurrency_and_destroyed(ledger: Ledger) -> None:
    keystore = KeyStore(ledger, b"k" * 32)
    others = [KeyStore(ledger, b"k" * 32) for _ in range(6)]  # like several worker processes

    async def race() -> set[tuple[str, bytes]]:
        return set(
            await asyncio.gather(*(asyncio.to_thread(ks.key_for, "dsr-pg-2") for ks in others))
        )

    winners = asyncio.run(race())  # no racer fails, and all got the same key
    key_id, key = keystore.key_for("dsr-pg-2")
    assert winners == {(key_id, key)} and len(key) == 32
    keystore.destroy("dsr-pg-2")
    with pytest.raises(KeyDestroyedError):
        KeyStore(ledger, b"k" * 32).get(key_id)


def test_audit_chain_holds_under_concurrent_writers_on_postgres(ledger: Ledger) -> None:
    """The head row lock serialises appends across connections: one unbroken chain."""
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    from dsrflow.ledger import audit_chain

    def write(worker: int) -> None:
        for i in range(15):
            ledger.audit(f"staff:w{worker}", "view", f"dsr-{worker}", i=i)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(write, range(6)))
    with ledger.session() as s:
        chain = audit_chain.walk(s)
    assert (chain.problem, chain.entries, chain.head_seq) == (None, 90, 90)
    with pytest.raises(DatabaseError, match="append-only"), ledger.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'staff:mallory' WHERE seq = 3"))
