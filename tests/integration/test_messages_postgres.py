"""The outbox on PostgreSQL: migrated like the models, and two senders never claim one message."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import dsrflow.tlog.models  # noqa: F401 - part of the schema
from dsrflow.ledger import Ledger, outbox
from dsrflow.ledger.models import Base
from dsrflow.messages import kinds

pytestmark = pytest.mark.postgres


def test_concurrent_claims_share_out_the_due_messages(pg_database: str) -> None:
    ledger = Ledger(f"postgresql://postgres@127.0.0.1:5432/{pg_database}", migrate=True)
    try:
        with ledger.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        with ledger.session() as s:
            for i in range(40):
                outbox.enqueue(s, f"dsr-pg-{i:03d}", [kinds.Planned(kinds.ACKNOWLEDGEMENT)])
            # Idempotent per request, kind and seq on PostgreSQL too.
            assert outbox.enqueue(s, "dsr-pg-000", [kinds.Planned(kinds.ACKNOWLEDGEMENT)]) == 0
        now = datetime.now(UTC) + timedelta(seconds=1)
        claimed: list[list[int]] = []
        start = threading.Barrier(4)

        def claim() -> None:
            start.wait()
            rows = outbox.claim(ledger, now, limit=15, lease=timedelta(minutes=5))
            claimed.append([r.id for r in rows])

        threads = [threading.Thread(target=claim) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        ids = [i for batch in claimed for i in batch]
        assert len(ids) == len(set(ids)) == 40  # every message once, none twice
        assert outbox.claim(ledger, now, limit=15, lease=timedelta(minutes=5)) == []  # leased
    finally:
        ledger.close()
