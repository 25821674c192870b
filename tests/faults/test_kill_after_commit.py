"""Fault: the worker dies between the store's COMMIT and the activity's completion.

A real ``dsrflow worker`` subprocess erases through a proxy that, when PostgreSQL answers the
erasure's COMMIT, holds the answer back and SIGKILLs that worker: the store has committed,
Temporal never hears of it. A second worker picks up the retried activity, which finds nothing
left to erase. The store must end ``done`` with the first run's counts, verified, and must
never be recorded as ``not_found``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dsrflow.devserver import DevServer
from dsrflow.domain import RequestStatus
from dsrflow.requests_client import RequestClient
from tests.faults.faultkit import (
    DONE,
    ERASED_ROWS,
    OTHER,
    PgProxy,
    WorkerProcess,
    crm,
    decoded_history,
    never_not_found,
    runtime,
    seed_store,
    store_rows,
    submit_erasure,
    until,
    wait_worker_ready,
    write_catalog,
)
from tests.faults.storekit import bundle_verifies

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


async def test_kill_between_commit_and_completion(
    temporal_server: DevServer, pg_schema: str, tmp_path: Path
) -> None:
    seed_store(pg_schema)
    proxy = PgProxy()
    proxy.up()
    rt = runtime(temporal_server, tmp_path, write_catalog(tmp_path, pg_schema, proxy.port))
    client = await rt.client()
    rc = RequestClient(client, rt.settings.task_queue)
    first = WorkerProcess(rt, tmp_path / "worker-1.log")
    try:
        await wait_worker_ready(first)
        proxy.arm(first.kill)
        rid = await submit_erasure(rc)
        for _ in range(600):  # bounded: the kill comes with the erasure's COMMIT
            if first.proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        assert first.proc.returncode == -9 and proxy.commits_cut == 1, first.output()[-3000:]

        # The erasure committed (the subject is gone; the plus-tag customer is untouched) and
        # its receipt was journaled inside the transaction; the worker never confirmed it.
        rows = store_rows(pg_schema)
        assert rows == {"customers": [(2, OTHER, "Mia Park")], "orders": [(12, 2, 9)]}
        entry = rt.journal.committed(rid, "crm", "erase")
        assert entry is not None and not entry.confirmed
        assert entry.receipt.affected == ERASED_ROWS

        # A second worker finishes the request.
        async with rt.worker(client):
            view = await until(
                rc, rid, lambda v: v.status == RequestStatus.COMPLETED, "the request to complete"
            )
            history = await decoded_history(client, rid)
        store = crm(view)
        assert store.status == DONE
        assert store.receipt is not None and store.receipt.recovered
        assert (store.receipt.matched, store.receipt.affected) == (ERASED_ROWS, ERASED_ROWS)
        assert store.verification is not None and store.verification.residual == 0
        assert never_not_found(history)
        ledger = rt.ledger.get_request(rid)
        assert ledger is not None
        assert [(s.store, s.status, s.affected, s.residual) for s in ledger.stores] == [
            ("crm", "done", ERASED_ROWS, 0)
        ]
        await bundle_verifies(rt, rid, tmp_path)
    finally:
        first.stop()
        proxy.down()
        rt.ledger.close()
