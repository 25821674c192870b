"""Fault: Redis is unreachable for a while (less than the store's retries allow), then back.

Three erasure requests run at once across PostgreSQL, Redis and MariaDB. Redis sits behind a
proxy the test takes down before they start: the PostgreSQL and MariaDB stores finish, the
Redis store's erase keeps failing and is retried by its policy. Once every request has retried
a few times the proxy comes back; every request must complete with nothing lost (each person
gone from every store, the bystander untouched) and nothing redone (each other store's erase and
verification ran once, on their first attempt, per Temporal's history), and each request's
evidence bundle must verify.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import Client

from dsrflow.devserver import DevServer
from dsrflow.domain import RequestStatus, StoreStatus
from dsrflow.requests_client import RequestClient
from tests.faults.faultkit import REDIS, TcpProxy, runtime, submit_erasure, until
from tests.faults.storekit import (
    BYSTANDER,
    ERASED,
    PEOPLE,
    Stores,
    activity_runs,
    bundle_verifies,
    left,
    outcome,
    seed,
    settled,
    write_catalog,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.mariadb, pytest.mark.redis]

# Room for about 20 s of outage (40 tries, at most 0.5 s apart); the outage lasts until each
# request's erase has failed 3 times, a few seconds.
PATIENT = {"max_attempts": 40, "initial_interval": 0.3, "backoff": 1.0, "max_interval": 0.5}
TRIES_DURING_OUTAGE = 3


@pytest.mark.timeout(150)
async def test_redis_outage_then_back(
    temporal_server: DevServer,
    pg_schema: str,
    redis_prefix: str,
    mariadb_database: str,
    tmp_path: Path,
) -> None:
    proxy = TcpProxy(REDIS)
    stores = Stores(pg_schema, redis_prefix, mariadb_database, redis_port=proxy.port)
    seed(stores)
    rt = runtime(temporal_server, tmp_path, write_catalog(tmp_path, stores, cache=PATIENT))
    client = await rt.client()
    rc = RequestClient(client, rt.settings.task_queue)
    try:
        async with rt.worker(client):
            # Redis is down (the proxy refuses) before the requests start.
            rids = list(await asyncio.gather(*(submit_erasure(rc, p) for p in PEOPLE)))
            for rid in rids:
                view = await until(
                    rc, rid,
                    lambda v: all(outcome(v, s).status == StoreStatus.DONE
                                  for s in ("crm", "shop")) if v.stores else False,
                    f"{rid}: the reachable stores to finish",
                )  # fmt: skip
                assert outcome(view, "cache").status == StoreStatus.RUNNING, view
                await _erase_retried(client, rid, TRIES_DURING_OUTAGE)
            assert proxy.connections == 0  # nothing reached Redis during the outage

            proxy.up()  # Redis is back
            views = [await until(rc, rid, settled, rid, seconds=60) for rid in rids]
            assert [v.status for v in views] == [RequestStatus.COMPLETED] * len(rids), views
            runs = {rid: await activity_runs(client, rid) for rid in rids}
        assert proxy.connections > 0
        assert left(stores) == {s: {BYSTANDER} for s in ("crm", "cache", "shop")}
        for rid, view in zip(rids, views, strict=True):
            for name in ("crm", "cache", "shop"):
                store = outcome(view, name)
                assert store.status == StoreStatus.DONE, store
                assert store.receipt is not None and store.verification is not None
                assert (store.receipt.matched, store.receipt.affected) == (
                    ERASED[name],
                    ERASED[name],
                ), store
                assert store.verification.residual == 0
            # The cache's erase was one run that took several attempts; it erased once.
            cache = outcome(view, "cache")
            assert cache.attempts > TRIES_DURING_OUTAGE and not cache.receipt.recovered, cache
            assert len(runs[rid][("erase_store", "cache")]) == 1
            assert runs[rid][("erase_store", "cache")][0] > TRIES_DURING_OUTAGE
            # Nothing that was done was redone: one run, first attempt, for the other stores.
            for name in ("crm", "shop"):
                assert outcome(view, name).attempts == 1
                assert runs[rid][("erase_store", name)] == [1], runs[rid]
                assert runs[rid][("check_store", name)] == [1], runs[rid]
            ledger = rt.ledger.get_request(rid)
            assert ledger is not None and ledger.status == "completed"
            assert sorted((s.store, s.status, s.affected, s.residual) for s in ledger.stores) == [
                (n, "done", ERASED[n], 0) for n in ("cache", "crm", "shop")
            ]
        await asyncio.gather(*(bundle_verifies(rt, rid, tmp_path) for rid in rids))
    finally:
        proxy.down()
        rt.ledger.close()


async def _erase_retried(client: Client, rid: str, tries: int) -> None:
    """Until the request's pending erase (the cache's: the others are done) failed ``tries``
    times (it is on a later attempt)."""
    handle = client.get_workflow_handle(rid)
    attempt = 0
    for _ in range(300):  # bounded: 30 s
        desc = await handle.describe()
        attempt = max(
            (p.attempt for p in desc.raw_description.pending_activities
             if p.activity_type.name == "erase_store"),
            default=0,
        )  # fmt: skip
        if attempt > tries:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{rid}: the cache's erase is on attempt {attempt}, not past {tries}")
