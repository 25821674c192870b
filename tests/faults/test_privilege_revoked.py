"""Fault: the store's database role loses its DELETE privilege; a person grants it back.

The PostgreSQL store is reached as a login role of the test's own. Before two erasure requests
start, an administrator revokes its DELETE: a permanent failure no retry can fix, so the store
must wait for a person at once (``failed_needs_attention``) with a one-line reason that says
what failed and names no one, while the Redis and MariaDB stores finish. Once DELETE is granted
back, ``dsrflow request retry-store`` (the CLI) finishes each request; the other stores ran
once, and each evidence bundle verifies.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

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
    drop_store_role,
    grant_store_role,
    left,
    outcome,
    pg_admin,
    seed,
    settled,
    write_catalog,
)
from tests.fixtures.stack import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.mariadb, pytest.mark.redis]


def _parked(view: StatusView) -> bool:
    """The crm store waits for a person and the others are done."""
    states = {o.store: o.status for o in view.stores}
    return states == {
        "crm": StoreStatus.FAILED_NEEDS_ATTENTION,
        "cache": StoreStatus.DONE,
        "shop": StoreStatus.DONE,
    }


@pytest.mark.timeout(150)
async def test_privilege_revoked_parks_then_retry_store(
    temporal_server: DevServer,
    pg_schema: str,
    redis_prefix: str,
    mariadb_database: str,
    tmp_path: Path,
) -> None:
    role = f"{pg_schema}_crm"
    stores = Stores(pg_schema, redis_prefix, mariadb_database, pg_user=role)
    seed(stores)
    grant_store_role(pg_schema, role)
    pg_admin(f'REVOKE DELETE ON ALL TABLES IN SCHEMA "{pg_schema}" FROM "{role}"')
    rt = runtime(temporal_server, tmp_path, write_catalog(tmp_path, stores))
    client = await rt.client()
    rc = RequestClient(client, rt.settings.task_queue)
    people = PEOPLE[:2]
    try:
        async with rt.worker(client):
            rids = list(await asyncio.gather(*(submit_erasure(rc, p) for p in people)))
            parked = [await until(rc, rid, _parked, f"{rid}: crm parked", 60) for rid in rids]
            for view in parked:
                crm = outcome(view, "crm")
                assert view.status == RequestStatus.NEEDS_ATTENTION
                assert crm.error_type == "PermanentStoreError", crm
                reason = crm.error or ""
                # One line that says what failed and where, and names no one.
                assert reason == (
                    "store 'crm': InsufficientPrivilege [SQLSTATE 42501] while erasing: "
                    "permission denied for table orders"
                ), reason
                assert "@" not in reason and not any(n in reason for n in NAMES), reason
                assert crm.attempts == 1, crm  # a permanent failure is not retried
                ledger = rt.ledger.get_request(view.request_id)
                assert ledger is not None and ledger.status == "needs_attention"
                row = next(s for s in ledger.stores if s.store == "crm")
                assert (row.status, row.error) == ("failed_needs_attention", reason)
            # Nothing was erased in crm (the transaction that failed rolled back).
            assert left(stores)["crm"] == {*PEOPLE, BYSTANDER}

            pg_admin(f'GRANT DELETE ON ALL TABLES IN SCHEMA "{pg_schema}" TO "{role}"')
            for rid in rids:
                code, out = await run_cli(
                    rt, "request", "retry-store", rid, "crm", "--reason", "DELETE granted back"
                )
                assert code == 0, out
            views = [await until(rc, rid, settled, rid, seconds=60) for rid in rids]
            assert [v.status for v in views] == [RequestStatus.COMPLETED] * 2, views
            runs = {rid: await activity_runs(client, rid) for rid in rids}
        assert left(stores) == {
            "crm": {PEOPLE[2], BYSTANDER},
            "cache": {PEOPLE[2], BYSTANDER},
            "shop": {PEOPLE[2], BYSTANDER},
        }
        for rid, view in zip(rids, views, strict=True):
            for name in ("crm", "cache", "shop"):
                store = outcome(view, name)
                assert store.status == StoreStatus.DONE, store
                assert store.receipt is not None and store.verification is not None
                assert store.receipt.affected == ERASED[name] and store.verification.residual == 0
            # crm: the failed run and the person's retry, each on its first attempt.
            assert runs[rid][("erase_store", "crm")] == [1, 1], runs[rid]
            assert runs[rid][("check_store", "crm")] == [1], runs[rid]
            for name in ("cache", "shop"):  # the other stores ran once
                assert runs[rid][("erase_store", name)] == [1], runs[rid]
                assert runs[rid][("check_store", name)] == [1], runs[rid]
            actions = [(a.actor, a.action, a.store) for a in view.actions]
            assert ("staff:test", "store_retry", "crm") in actions, actions
            ledger = rt.ledger.get_request(rid)
            assert ledger is not None and ledger.status == "completed"
        await asyncio.gather(*(bundle_verifies(rt, rid, tmp_path) for rid in rids))
    finally:
        rt.ledger.close()
        drop_store_role(pg_schema, role)
