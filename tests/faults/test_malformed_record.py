"""Fault: one malformed record makes one store's erase fail; nothing else is affected.

Redis holds each person's profile as a hash whose ``email`` and ``name`` fields the catalog
erases. One person's profile was written as a plain string instead (an old application
version's format): the adapter's HMGET on it fails with Redis's WRONGTYPE. That store must wait
for a person (``failed_needs_attention``) with a one-line reason that names no one; the same
request's PostgreSQL and MariaDB stores, and a concurrent request about another person whose
records are well formed, must finish as if nothing happened.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis

from dsrflow.devserver import DevServer
from dsrflow.domain import RequestStatus, StatusView, StoreStatus
from dsrflow.requests_client import RequestClient
from tests.faults.faultkit import runtime, submit_erasure, until
from tests.faults.storekit import (
    BYSTANDER,
    ERASED,
    NAMES,
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
from tests.fixtures.redis_store import REDIS_URL
from tests.fixtures.stack import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.mariadb, pytest.mark.redis]

MALFORMED, WELL_FORMED = PEOPLE[0], PEOPLE[1]


def _cache_parked_rest_done(view: StatusView) -> bool:
    """The cache waits for a person; every other store of the request has ended."""
    states = {o.store: o.status for o in view.stores}
    return states.get("cache") == StoreStatus.FAILED_NEEDS_ATTENTION and all(
        states.get(s) in (StoreStatus.DONE, StoreStatus.FAILED_NEEDS_ATTENTION)
        for s in ("crm", "shop")
    )


@pytest.mark.timeout(150)
async def test_malformed_record_crashes_one_store_only(
    temporal_server: DevServer,
    pg_schema: str,
    redis_prefix: str,
    mariadb_database: str,
    tmp_path: Path,
) -> None:
    stores = Stores(pg_schema, redis_prefix, mariadb_database)
    seed(stores, malformed_profile=MALFORMED)
    rt = runtime(temporal_server, tmp_path, write_catalog(tmp_path, stores))
    client = await rt.client()
    rc = RequestClient(client, rt.settings.task_queue)
    try:
        async with rt.worker(client):
            bad, good = await asyncio.gather(
                submit_erasure(rc, MALFORMED), submit_erasure(rc, WELL_FORMED)
            )
            bad_view = await until(rc, bad, _cache_parked_rest_done, bad, seconds=60)
            good_view = await until(rc, good, settled, good, seconds=60)
            runs = {rid: await activity_runs(client, rid) for rid in (bad, good)}
        assert bad_view.status == RequestStatus.NEEDS_ATTENTION, bad_view
        assert good_view.status == RequestStatus.COMPLETED, good_view

        cache = outcome(bad_view, "cache")
        assert cache.status == StoreStatus.FAILED_NEEDS_ATTENTION, cache
        assert cache.error_type == "PermanentStoreError", cache
        # One line that says what failed and where, and names no one.
        assert cache.error == (
            "store 'cache': ResponseError while erasing: WRONGTYPE Operation against a key "
            "holding the wrong kind of value"
        ), cache.error
        assert cache.attempts == 1 and runs[bad][("erase_store", "cache")] == [1], runs[bad]
        assert ("check_store", "cache") not in runs[bad]
        ledger = rt.ledger.get_request(bad)
        assert ledger is not None and ledger.status == "needs_attention"
        assert {s.store: (s.status, s.error) for s in ledger.stores} == {
            "cache": ("failed_needs_attention", cache.error),
            "crm": ("done", None),
            "shop": ("done", None),
        }
        code, shown = await run_cli(rt, "request", "show", bad)  # what a person sees
        assert code == 0 and "WRONGTYPE" in shown, shown
        assert MALFORMED not in shown and NAMES[0] not in shown, shown

        # The same request's other stores, and the other request, ran once and finished.
        for rid, view, names in ((bad, bad_view, ("crm", "shop")),
                                 (good, good_view, ("crm", "cache", "shop"))):  # fmt: skip
            for name in names:
                store = outcome(view, name)
                assert store.status == StoreStatus.DONE, store
                assert store.receipt is not None and store.receipt.affected == ERASED[name]
                assert store.verification is not None and store.verification.residual == 0
                assert runs[rid][("erase_store", name)] == [1], runs[rid]
                assert runs[rid][("check_store", name)] == [1], runs[rid]
        assert left(stores) == {
            "crm": {PEOPLE[2], BYSTANDER},
            "shop": {PEOPLE[2], BYSTANDER},
            # Nothing of hers was deleted in Redis: every collection is read (and the profile
            # failed) before the first delete.
            "cache": {MALFORMED, PEOPLE[2], BYSTANDER},
        }
        r = redis.Redis.from_url(REDIS_URL)
        sessions = [f"{redis_prefix}session:{MALFORMED}:{n}" for n in (1, 2)]
        assert r.exists(*sessions) == 2
        r.close()
        await bundle_verifies(rt, good, tmp_path)
    finally:
        rt.ledger.close()
