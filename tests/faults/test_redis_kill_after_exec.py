"""Fault: the worker dies between Redis's EXEC and the erase's completion.

The SQL adapter journals its receipt inside the erasure transaction (``on_commit``), so a re-run
after a lost completion returns it (``test_kill_after_commit.py``). The Redis adapter hands its
receipt over before its first MULTI/EXEC. A real ``dsrflow worker`` erases through a proxy in
front of Redis that, when Redis answers the erasure's EXEC, holds the answer back and SIGKILLs
that worker: Redis has deleted, Temporal never hears of it. A second worker re-runs the erase,
finds nothing, and must return the journaled receipt (``recovered``): the store ends ``done``
with the first run's counts, never ``not_found``. (Before the Redis adapter had the hook, the
receipt was journaled only after ``erase`` returned, and this ended ``not_found``.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis

from dsrflow.devserver import DevServer
from dsrflow.domain import StoreStatus
from dsrflow.requests_client import RequestClient
from tests.faults.faultkit import (
    REDIS,
    TcpProxy,
    WorkerProcess,
    runtime,
    submit_erasure,
    until,
    wait_worker_ready,
)
from tests.faults.storekit import PEOPLE, Stores, outcome, seed, write_catalog
from tests.fixtures.redis_store import REDIS_URL

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.mariadb, pytest.mark.redis]

# Redis's answer to a MULTI/EXEC pipeline: each command QUEUED, then EXEC's array of results.
EXEC_REPLY = b"+QUEUED\r\n*"


@pytest.mark.timeout(150)
async def test_kill_between_redis_exec_and_journal(
    temporal_server: DevServer,
    pg_schema: str,
    redis_prefix: str,
    mariadb_database: str,
    tmp_path: Path,
) -> None:
    proxy = TcpProxy(REDIS, reply=EXEC_REPLY)
    stores = Stores(pg_schema, redis_prefix, mariadb_database, redis_port=proxy.port)
    seed(stores)
    subject = PEOPLE[0]
    # Only her profile in Redis: the erase is one MULTI/EXEC (HDEL of its two fields).
    r = redis.Redis.from_url(REDIS_URL)
    r.delete(f"{redis_prefix}session:{subject}:1", f"{redis_prefix}session:{subject}:2")
    r.close()
    proxy.up()
    rt = runtime(temporal_server, tmp_path, write_catalog(tmp_path, stores))
    client = await rt.client()
    rc = RequestClient(client, rt.settings.task_queue)
    first = WorkerProcess(rt, tmp_path / "worker-1.log")
    try:
        await wait_worker_ready(first)
        proxy.arm(first.kill)
        rid = await submit_erasure(rc, subject)
        for _ in range(600):  # bounded: the kill comes with Redis's answer to the EXEC
            if first.proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        assert first.proc.returncode == -9 and proxy.commits_cut == 1, first.output()[-3000:]
        r = redis.Redis.from_url(REDIS_URL)
        assert not r.exists(f"{redis_prefix}profile:{subject}")  # Redis did delete
        r.close()
        entry = rt.journal.committed(rid, "cache", "erase")  # journaled before the EXEC
        assert entry is not None and not entry.confirmed and entry.receipt.affected == 1

        async with rt.worker(client):
            view = await until(
                rc, rid,
                lambda v: bool(v.stores) and all(
                    o.status not in (StoreStatus.PENDING, StoreStatus.RUNNING) for o in v.stores
                ),
                "every store to settle", 60,
            )  # fmt: skip
        cache = outcome(view, "cache")
        assert cache.status == StoreStatus.DONE, cache
        assert cache.receipt is not None and cache.receipt.recovered, cache
        assert (cache.receipt.matched, cache.receipt.affected) == (1, 1)
        assert cache.verification is not None and cache.verification.residual == 0
    finally:
        first.stop()
        proxy.down()
        rt.ledger.close()
